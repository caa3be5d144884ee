/* The fiber context switch for x86-64 (System V ABI): only the callee-saved registers
 * (rbx, rbp, r12-r15) need keeping across a call, so a switch is a call that pushes them on
 * the old stack, swaps stack pointers and pops them from the new one. The signal mask and the
 * floating-point control words are left alone: fibers share their thread's (unlike
 * swapcontext, which makes a sigprocmask system call on every switch).
 *
 *   void wr__fiber_switch(void **save_sp, void *to_sp)   saves into *save_sp, resumes to_sp
 *   wr__fiber_entry                                       first return of a new fiber: calls
 *                                                         r13(r12); never returns */
	.text
	.globl wr__fiber_switch
	.hidden wr__fiber_switch
	.type wr__fiber_switch, @function
wr__fiber_switch:
	.cfi_startproc
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	/* Not `ret`: the return address belongs to the other stack's call, so a ret would miss
	 * the CPU's return-stack prediction on every switch; an indirect jump is predicted by
	 * its target history instead (measured: bench/fiber_switch_bench). */
	popq %r11
	jmpq *%r11
	.cfi_endproc
	.size wr__fiber_switch, .-wr__fiber_switch

	.globl wr__fiber_entry
	.hidden wr__fiber_entry
	.type wr__fiber_entry, @function
wr__fiber_entry:
	.cfi_startproc
	.cfi_undefined rip      /* the bottom of the fiber's stack: unwinders stop here */
	movq %r12, %rdi
	callq *%r13
	ud2                     /* the fiber's function switches away for good, never returns */
	.cfi_endproc
	.size wr__fiber_entry, .-wr__fiber_entry

	.section .note.GNU-stack,"",@progbits
