/* The fiber context switch for aarch64 (AAPCS64): the callee-saved registers are x19-x28,
 * the frame pointer x29, the link register x30 and the low halves of v8-v15 (d8-d15). A
 * switch stores them in a 160-byte frame on the old stack, swaps stack pointers, loads them
 * from the new one and returns through the new x30. No signal mask, no FPCR: fibers share
 * their thread's.
 *
 *   void wr__fiber_switch(void **save_sp, void *to_sp)
 *   wr__fiber_entry: first return of a new fiber: calls x20(x19); never returns */
	.text
	.globl wr__fiber_switch
	.hidden wr__fiber_switch
	.type wr__fiber_switch, %function
	.p2align 4
wr__fiber_switch:
	sub sp, sp, #160
	stp x19, x20, [sp, #0]
	stp x21, x22, [sp, #16]
	stp x23, x24, [sp, #32]
	stp x25, x26, [sp, #48]
	stp x27, x28, [sp, #64]
	stp x29, x30, [sp, #80]
	stp d8, d9, [sp, #96]
	stp d10, d11, [sp, #112]
	stp d12, d13, [sp, #128]
	stp d14, d15, [sp, #144]
	mov x9, sp
	str x9, [x0]
	mov sp, x1
	ldp x19, x20, [sp, #0]
	ldp x21, x22, [sp, #16]
	ldp x23, x24, [sp, #32]
	ldp x25, x26, [sp, #48]
	ldp x27, x28, [sp, #64]
	ldp x29, x30, [sp, #80]
	ldp d8, d9, [sp, #96]
	ldp d10, d11, [sp, #112]
	ldp d12, d13, [sp, #128]
	ldp d14, d15, [sp, #144]
	add sp, sp, #160
	ret
	.size wr__fiber_switch, .-wr__fiber_switch

	.globl wr__fiber_entry
	.hidden wr__fiber_entry
	.type wr__fiber_entry, %function
	.p2align 4
wr__fiber_entry:
	mov x29, #0             /* the bottom of the fiber's stack for frame walkers */
	mov x0, x19
	blr x20
	brk #0                  /* the fiber's function switches away for good, never returns */
	.size wr__fiber_entry, .-wr__fiber_entry

	.section .note.GNU-stack,"",%progbits
