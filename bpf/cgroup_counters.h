/* The contract between bpf/cgroup_counters.bpf.c and the addon (native/wattsched_bpf.cc): the per-cgroup value
 * layout and the PMU counter slots. The TypeScript decoder's field list is checked against CG_FIELD_NAMES by a test. */
#ifndef WATTSCHED_CGROUP_COUNTERS_H
#define WATTSCHED_CGROUP_COUNTERS_H

/* One per-CPU value per cgroup v2 id; all fields are u64 so the userspace side can treat it as an array. */
struct cg_counters {
	__u64 cpu_ns;        /* on-CPU time of tasks in the cgroup, from sched_switch to sched_switch */
	__u64 switches;      /* times a task of the cgroup was switched out */
	__u64 cycles;        /* PMU deltas over the same slices; stay 0 when the counter is not live */
	__u64 instructions;
	__u64 cache_misses;
};

#define CG_NFIELDS 5
#define CG_FIELD_NAMES "cpu_ns,switches,cycles,instructions,cache_misses"

/* PMU slots, as bits in pmu_mask (rodata) and indexes of the per-counter perf-event arrays. */
enum cg_pmu {
	CG_PMU_CYCLES = 0,
	CG_PMU_INSTRUCTIONS = 1,
	CG_PMU_CACHE_MISSES = 2,
	CG_PMU_N = 3,
};

/* Indexes of the per-CPU stats array. */
enum cg_stat {
	CG_STAT_DROPPED = 0,  /* switches not accounted because the cgroup map was full */
	CG_STAT_N = 1,
};

#endif
