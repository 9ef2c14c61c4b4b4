/* How gemm_packed and gemm_int8 share a product out among threads: tasks of row_block rows of
 * C by a group of per_task panels, numbered row block by row block, so that there are several
 * tasks per thread; taken dynamically, a thread slowed by a neighbour on its core takes
 * fewer. */
#ifndef SEMB_KERNELS_GEMM_TASKS_H
#define SEMB_KERNELS_GEMM_TASKS_H

typedef struct gemm_tasks {
    int M, row_block, panels, per_task;
    int groups; /* panel groups per row block */
    int count;  /* tasks in all */
} gemm_tasks;

/* The tasks of M rows (M >= 1) and `panels` panels (>= 1). */
static inline gemm_tasks gemm_tasks_plan(int M, int row_block, int panels, int per_task)
{
    gemm_tasks t = {M, row_block, panels, per_task, (panels + per_task - 1) / per_task, 0};
    t.count = (M + row_block - 1) / row_block * t.groups;
    return t;
}

/* Task `task`'s rows [*m0, *m1) and panels [*p0, *p1). */
static inline void gemm_task_bounds(const gemm_tasks *t, int task, int *m0, int *m1, int *p0,
                                    int *p1)
{
    *m0 = task / t->groups * t->row_block;
    *m1 = *m0 + t->row_block < t->M ? *m0 + t->row_block : t->M;
    *p0 = task % t->groups * t->per_task;
    *p1 = *p0 + t->per_task < t->panels ? *p0 + t->per_task : t->panels;
}

#endif
