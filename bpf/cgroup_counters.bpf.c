// SPDX-License-Identifier: GPL-2.0
/* Per-cgroup on-CPU time, context switches and (where the PMU allows) cycles, instructions and cache misses,
 * accumulated at every sched_switch. At the switch `current` is still the task being switched out, so its slice is
 * charged to bpf_get_current_cgroup_id(). That includes an exiting task's final slice (its cgroup pointer stays
 * valid until the task is freed), so work that forks, runs and exits within one interval is counted. Entries are
 * never deleted here: userspace frees a cgroup's entry after it has read the final counts of a cgroup that is gone.
 *
 * Slice length: the growth of the switched-out task's se.sum_exec_runtime since that task was last charged, kept per
 * task (task local storage, which tracing programs have since Linux 5.13), the same clock the kernel charges to
 * cpu.stat (excludes steal and, where configured, IRQ time). State is per task, not per
 * CPU, because a CPU's switches are not all seen: on the machine this was developed on, the switch-outs of some tasks
 * never reach the sched_switch tracepoint (ftrace does not show them either), and with a per-CPU "task switched in
 * last, and its runtime then" the next task's whole stint was dropped whenever the switch onto it was one of those
 * (20-40% of a burner's time under contention). Per task, a missed switch only moves when a slice is charged, never
 * whether. A task seen for the first time is charged from zero if it was forked after the program was loaded
 * (sum_exec_runtime starts at 0 at fork), else from that moment: what it ran before the agent started is not ours.
 *
 * A stint is otherwise only charged when it ends, so a task that runs for seconds without a switch, or one whose
 * parent reaps it before its final switch, would show up late. Two flush points charge the stint so far:
 * sched_process_exit (before the parent can be told), and a per-CPU software clock event at a few Hz.
 *
 * Three sched_switch entry points carry the same body; the loader autoloads the best one the kernel accepts:
 *   tp_btf/sched_switch (BPF_PROG_TYPE_TRACING), raw_tp/sched_switch, tp/sched/sched_switch. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "cgroup_counters.h"

char LICENSE[] SEC("license") = "GPL";

/* Built with -DCG_EMPTY_BASELINE (bpf/.output/cgroup_counters_empty.bpf.o, benchmark only), every entry point
 * returns at once: bench/agent attaches that object to separate what the tracing hook itself costs per switch from
 * what this program's body adds. */
#ifdef CG_EMPTY_BASELINE
#define CG_BASELINE_RETURN() return 0
#else
#define CG_BASELINE_RETURN() do { } while (0)
#endif

/* Bit i set: PMU counter i has an open perf event on every CPU (set by the loader before load). */
const volatile __u32 pmu_mask = 0;
/* CLOCK_MONOTONIC at load (set by the loader), the clock of task_struct.start_time: tasks forked later are ours
 * from their first nanosecond. */
const volatile __u64 load_ns = 0;

struct cpu_state {
	__u64 last_pmu[CG_PMU_N]; /* PMU counts at the last charge on this CPU */
	__u64 last_ns;            /* ktime of that charge */
	__s32 pid;                /* task on this CPU as of that charge (next, after a switch) */
};

/* The task's se.sum_exec_runtime up to which it has been charged. Freed with the task. */
struct task_charge {
	__u64 charged;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_charge);
} task_charges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384); /* the loader resizes it from ebpf.maxCgroups */
	__type(key, __u64);
	__type(value, struct cg_counters);
} cgroup_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_state);
} cpu_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CG_STAT_N);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* One perf-event array per PMU counter, one slot per CPU (sized by libbpf to the number of possible CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pmu_cycles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pmu_instructions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pmu_cache_misses SEC(".maps");

static __always_inline __u64 pmu_delta(void *map, __u64 *last)
{
	struct bpf_perf_event_value v = {};

	if (bpf_perf_event_read_value(map, BPF_F_CURRENT_CPU, &v, sizeof(v)) != 0)
		return 0;
	__u64 d = *last == 0 ? 0 : v.counter - *last; /* u64 arithmetic: wrap-around comes out right */
	*last = v.counter;
	return d;
}

/* A PMU delta since the last charge on this CPU, scaled to the current task's share when the switch onto it was not
 * seen (the stretch then also holds other tasks' time): its slice over the wall time, i.e. an even rate. */
static __always_inline __u64 pmu_share(__u64 d, __u64 slice_ns, __u64 wall_ns)
{
	if (wall_ns == 0 || slice_ns >= wall_ns)
		return d;
	return d < (1ull << 32) ? d * slice_ns / wall_ns : d / wall_ns * slice_ns;
}

/* Charges `slice_ns` and the PMU deltas to the current cgroup; `has_slice` 0 only advances the PMU baselines.
 * `is_switch` counts a context switch (flushes do not); `next_pid` is who runs on this CPU from now on. */
static __always_inline void charge(struct cpu_state *st, __s32 cur_pid, __s32 next_pid, __u64 slice_ns, int has_slice, int is_switch)
{
	__u64 d_pmu[CG_PMU_N] = {};
	if (pmu_mask) {
		if (pmu_mask & (1u << CG_PMU_CYCLES))
			d_pmu[CG_PMU_CYCLES] = pmu_delta(&pmu_cycles, &st->last_pmu[CG_PMU_CYCLES]);
		if (pmu_mask & (1u << CG_PMU_INSTRUCTIONS))
			d_pmu[CG_PMU_INSTRUCTIONS] = pmu_delta(&pmu_instructions, &st->last_pmu[CG_PMU_INSTRUCTIONS]);
		if (pmu_mask & (1u << CG_PMU_CACHE_MISSES))
			d_pmu[CG_PMU_CACHE_MISSES] = pmu_delta(&pmu_cache_misses, &st->last_pmu[CG_PMU_CACHE_MISSES]);
		__u64 now = bpf_ktime_get_ns();
		if (has_slice && st->pid != cur_pid) {
			__u64 wall = st->last_ns == 0 ? 0 : now - st->last_ns;
			for (int i = 0; i < CG_PMU_N; i++)
				d_pmu[i] = pmu_share(d_pmu[i], slice_ns, wall);
		}
		st->last_ns = now;
		st->pid = next_pid;
	}
	if (!has_slice)
		return;

	__u64 cgid = bpf_get_current_cgroup_id();
	struct cg_counters *c = bpf_map_lookup_elem(&cgroup_counters, &cgid);
	if (!c) {
		struct cg_counters init = {};
		/* NOEXIST: another CPU may have created it meanwhile; then the lookup below finds that one. */
		if (bpf_map_update_elem(&cgroup_counters, &cgid, &init, BPF_NOEXIST) != 0 && bpf_map_lookup_elem(&cgroup_counters, &cgid) == 0) {
			__u32 k = CG_STAT_DROPPED;
			__u64 *dropped = bpf_map_lookup_elem(&stats, &k);
			if (dropped)
				*dropped += 1;
			return;
		}
		c = bpf_map_lookup_elem(&cgroup_counters, &cgid);
		if (!c)
			return;
	}
	/* Per-CPU values: only this CPU writes them, so plain adds need no lock or atomic. */
	c->cpu_ns += slice_ns;
	c->switches += is_switch;
	c->cycles += d_pmu[CG_PMU_CYCLES];
	c->instructions += d_pmu[CG_PMU_INSTRUCTIONS];
	c->cache_misses += d_pmu[CG_PMU_CACHE_MISSES];
}

static __always_inline struct cpu_state *cpu_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&cpu_states, &zero);
}

/* Charges what the current task ran since it was last charged. `current` is the task being switched
 * out at sched_switch, the exiting task at sched_process_exit and the interrupted task in the flush. */
static __always_inline int charge_current(int is_switch, __s32 next_pid)
{
	CG_BASELINE_RETURN();
	struct cpu_state *st = cpu_state();
	if (!st)
		return 0;
	struct task_struct *cur = bpf_get_current_task_btf();
	__u64 slice = 0;
	int known = 0;
	__s32 pid = BPF_CORE_READ(cur, pid);
	/* The idle task is not work of any cgroup. */
	if (pid != 0) {
		__u64 runtime = BPF_CORE_READ(cur, se.sum_exec_runtime);
		struct task_charge *tc = bpf_task_storage_get(&task_charges, cur, 0, 0);
		if (!tc) {
			tc = bpf_task_storage_get(&task_charges, cur, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
			/* Out of memory or storage busy on this CPU: nothing is lost, the next charge of this task covers it. */
			if (tc)
				tc->charged = BPF_CORE_READ(cur, start_time) >= load_ns ? 0 : runtime;
		}
		if (tc) {
			known = 1;
			if (runtime > tc->charged) {
				slice = runtime - tc->charged;
				tc->charged = runtime;
			}
		}
	}
	charge(st, pid, is_switch ? next_pid : pid, slice, known, is_switch);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return charge_current(1, next->pid);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(handle_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return charge_current(1, BPF_CORE_READ(next, pid));
}

SEC("tp/sched/sched_switch")
int handle_switch_tp(struct trace_event_raw_sched_switch *ctx)
{
	return charge_current(1, ctx->next_pid);
}

/* The exiting task is still `current` and still in its cgroup; after this only a few microseconds remain. */
SEC("tp/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	return charge_current(0, 0);
}

/* Per-CPU software clock event: bounds how stale a long-running task's counts can be. */
SEC("perf_event")
int handle_flush(struct bpf_perf_event_data *ctx)
{
	return charge_current(0, 0);
}
