/* placeholder: the blocking client */
