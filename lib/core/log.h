/* Debug logging through one replaceable sink (wr_set_log); silent by default. */
#ifndef WR_LIB_LOG_H
#define WR_LIB_LOG_H

void wr__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
