// node-addon-api wrapper around the cgroup_counters skeleton: open (embedded object, or a file for development and
// tests), configure through rodata and map sizes, load, attach one program variant, read the per-cgroup map in
// batches, free entries userspace is done with, destroy. Nothing else: choosing variants and interpreting the numbers
// is the TypeScript side's job.
#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cgroup_counters.h"
#include "cgroup_counters.skel.h"

namespace {

// libbpf's print callback carries no user data, so the last load's warnings collect here; the agent loads on one
// thread at start-up, and the text only ever ends up in an error message.
std::string g_libbpf_log;

int collect_libbpf_log(enum libbpf_print_level level, const char *fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  vsnprintf(buf, sizeof(buf), fmt, args);
  g_libbpf_log += buf;
  if (g_libbpf_log.size() > 8192) g_libbpf_log.erase(0, g_libbpf_log.size() - 8192);
  return 0;
}

std::string errno_text(int err) { return std::string(strerror(err < 0 ? -err : err)); }

const char *kPmuNames[CG_PMU_N] = {"cycles", "instructions", "cache_misses"};
const uint64_t kPmuConfig[CG_PMU_N] = {PERF_COUNT_HW_CPU_CYCLES, PERF_COUNT_HW_INSTRUCTIONS, PERF_COUNT_HW_CACHE_MISSES};

int perf_open(uint32_t type, uint64_t config, int cpu) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = type;
  attr.config = config;
  return static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
}

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Session",
                       {InstanceMethod("read", &Session::Read), InstanceMethod("remove", &Session::Remove),
                        InstanceMethod("dropped", &Session::Dropped), InstanceMethod("info", &Session::Info),
                        InstanceMethod("destroy", &Session::DestroyJs)});
  }

  // new Session(variant: 'tp_btf'|'raw_tp'|'tp',
  //             { objectPath?, maxEntries, pmu: string[], pmuStandIn?: boolean, exitHook?: boolean, flushHz?: number })
  explicit Session(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Session>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
      throw Napi::TypeError::New(env, "Session(variant, options)");
    variant_ = info[0].As<Napi::String>().Utf8Value();
    Napi::Object opts = info[1].As<Napi::Object>();
    g_libbpf_log.clear();
    libbpf_set_print(collect_libbpf_log);
    std::string err = Open(opts);
    if (!err.empty()) {
      Cleanup();
      std::string log = g_libbpf_log;
      throw Napi::Error::New(env, log.empty() ? err : err + "\nlibbpf: " + log);
    }
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    hooked_ = true;
  }

  ~Session() override {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
    Cleanup();
  }

 private:
  static void CleanupHook(void *arg) {
    auto *self = static_cast<Session *>(arg);
    self->hooked_ = false;
    self->Cleanup();
  }

  std::string Open(Napi::Object opts) {
    ncpus_ = libbpf_num_possible_cpus();
    if (ncpus_ <= 0) return "cannot count possible CPUs: " + errno_text(ncpus_);
    skel_ = static_cast<cgroup_counters_bpf *>(calloc(1, sizeof(*skel_)));
    if (!skel_) return "out of memory";
    int rc = cgroup_counters_bpf__create_skeleton(skel_);
    if (rc) return "cannot create skeleton: " + errno_text(rc);
    if (opts.Has("objectPath") && opts.Get("objectPath").IsString()) {
      // Same maps and programs, different bytes: lets a developer try a rebuilt object, and tests force a bad one.
      std::string path = opts.Get("objectPath").As<Napi::String>().Utf8Value();
      std::ifstream in(path, std::ios::binary);
      if (!in) return "cannot read BPF object " + path + ": " + errno_text(errno);
      object_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      skel_->skeleton->data = object_.data();
      skel_->skeleton->data_sz = object_.size();
    }
    rc = bpf_object__open_skeleton(skel_->skeleton, nullptr);
    if (rc) return "cannot open BPF object: " + errno_text(rc);

    bpf_program *chosen = nullptr;
    bpf_program *all[] = {skel_->progs.handle_switch_btf, skel_->progs.handle_switch_raw, skel_->progs.handle_switch_tp};
    const char *names[] = {"tp_btf", "raw_tp", "tp"};
    for (int i = 0; i < 3; i++) {
      bool on = variant_ == names[i];
      bpf_program__set_autoload(all[i], on);
      if (on) chosen = all[i];
    }
    if (!chosen) return "unknown program variant " + variant_;

    // Flush hooks: optional, so a kernel that refuses them still gets the switch program (the loader retries
    // without them and reports why).
    exit_hook_ = opts.Has("exitHook") && opts.Get("exitHook").ToBoolean().Value();
    flush_hz_ = opts.Has("flushHz") ? opts.Get("flushHz").As<Napi::Number>().Uint32Value() : 0;
    bpf_program__set_autoload(skel_->progs.handle_exit, exit_hook_);
    bpf_program__set_autoload(skel_->progs.handle_flush, flush_hz_ > 0);
    // task_struct.start_time is CLOCK_MONOTONIC: tasks forked after this are charged from their first nanosecond.
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    skel_->rodata->load_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);

    uint32_t max_entries = opts.Has("maxEntries") ? opts.Get("maxEntries").As<Napi::Number>().Uint32Value() : 16384;
    rc = bpf_map__set_max_entries(skel_->maps.cgroup_counters, max_entries);
    if (rc) return "cannot size cgroup map: " + errno_text(rc);

    OpenPmu(opts);
    uint32_t mask = 0;
    for (int i = 0; i < CG_PMU_N; i++)
      if (pmu_reason_[i].empty()) mask |= 1u << i;
    skel_->rodata->pmu_mask = mask;

    rc = cgroup_counters_bpf__load(skel_);
    if (rc) return "cannot load " + variant_ + " program: " + errno_text(rc);

    bpf_map *pmu_maps[CG_PMU_N] = {skel_->maps.pmu_cycles, skel_->maps.pmu_instructions, skel_->maps.pmu_cache_misses};
    for (int i = 0; i < CG_PMU_N; i++) {
      if (!pmu_reason_[i].empty()) continue;
      for (int cpu = 0; cpu < ncpus_; cpu++) {
        int fd = pmu_fds_[i][cpu];
        if (bpf_map_update_elem(bpf_map__fd(pmu_maps[i]), &cpu, &fd, BPF_ANY) != 0)
          return std::string("cannot install ") + kPmuNames[i] + " perf event: " + errno_text(errno);
      }
    }

    link_ = bpf_program__attach(chosen);
    if (!link_) {
      int e = errno;
      return "cannot attach " + variant_ + " program: " + errno_text(e);
    }
    AttachFlushes();
    return "";
  }

  // Failures here leave the switch program running: they are reported by info(), not thrown.
  void AttachFlushes() {
    if (!exit_hook_) {
      exit_reason_ = "disabled";
    } else {
      exit_link_ = bpf_program__attach(skel_->progs.handle_exit);
      if (!exit_link_) exit_reason_ = "cannot attach tp/sched/sched_process_exit: " + errno_text(errno);
    }
    if (flush_hz_ == 0) {
      flush_reason_ = "disabled";
      return;
    }
    for (int cpu = 0; cpu < ncpus_; cpu++) {
      struct perf_event_attr attr;
      memset(&attr, 0, sizeof(attr));
      attr.size = sizeof(attr);
      attr.type = PERF_TYPE_SOFTWARE;
      attr.config = PERF_COUNT_SW_CPU_CLOCK;
      attr.freq = 1;
      attr.sample_freq = flush_hz_;
      int fd = static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
      if (fd < 0) {
        // A possible but offline CPU runs nothing to flush; any other failure disables the flush.
        if (errno == ENODEV) continue;
        flush_reason_ = "perf_event_open(cpu-clock, cpu " + std::to_string(cpu) + "): " + errno_text(errno);
        break;
      }
      flush_fds_.push_back(fd);
      bpf_link *l = bpf_program__attach_perf_event(skel_->progs.handle_flush, fd);
      if (!l) {
        flush_reason_ = "cannot attach the flush program: " + errno_text(errno);
        break;
      }
      flush_links_.push_back(l);
    }
    if (!flush_reason_.empty()) DetachFlushTimers();
  }

  void DetachFlushTimers() {
    for (bpf_link *l : flush_links_) bpf_link__destroy(l);
    flush_links_.clear();
    for (int fd : flush_fds_) close(fd);
    flush_fds_.clear();
  }

  // A counter is live only if a perf event opens on every CPU; otherwise its slot stays unused and says why.
  void OpenPmu(Napi::Object opts) {
    std::vector<std::string> wanted;
    if (opts.Has("pmu") && opts.Get("pmu").IsArray()) {
      Napi::Array a = opts.Get("pmu").As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) wanted.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
    bool stand_in = opts.Has("pmuStandIn") && opts.Get("pmuStandIn").ToBoolean().Value();
    for (int i = 0; i < CG_PMU_N; i++) {
      pmu_fds_[i].assign(ncpus_, -1);
      bool want = false;
      for (const auto &w : wanted) want = want || w == kPmuNames[i];
      if (!want) {
        pmu_reason_[i] = "not requested (ebpf.pmuCounters)";
        continue;
      }
      for (int cpu = 0; cpu < ncpus_; cpu++) {
        // The stand-in (software cpu-clock, in ns) exercises the same perf-array path on machines without a PMU.
        int fd = stand_in ? perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, cpu) : perf_open(PERF_TYPE_HARDWARE, kPmuConfig[i], cpu);
        if (fd < 0) {
          int e = errno;
          pmu_reason_[i] = "perf_event_open(" + std::string(kPmuNames[i]) + ", cpu " + std::to_string(cpu) + "): " + errno_text(e) +
                           (e == ENOENT || e == EOPNOTSUPP ? " (no hardware counter on this machine)" : "");
          ClosePmu(i);
          break;
        }
        pmu_fds_[i][cpu] = fd;
      }
      if (pmu_reason_[i].empty() && stand_in) pmu_standin_ = true;
    }
  }

  void ClosePmu(int i) {
    for (int &fd : pmu_fds_[i]) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }

  void Cleanup() {
    DetachFlushTimers();
    if (exit_link_) bpf_link__destroy(exit_link_);
    exit_link_ = nullptr;
    if (link_) bpf_link__destroy(link_);
    link_ = nullptr;
    if (skel_) cgroup_counters_bpf__destroy(skel_);
    skel_ = nullptr;
    for (int i = 0; i < CG_PMU_N; i++) ClosePmu(i);
  }

  void Require(Napi::Env env) {
    if (!skel_) throw Napi::Error::New(env, "session destroyed");
  }

  void Accumulate(const uint64_t *key, const uint8_t *percpu, std::vector<uint64_t> &ids, std::vector<double> &vals) {
    const size_t stride = (sizeof(cg_counters) + 7) & ~size_t(7);
    ids.push_back(*key);
    uint64_t sum[CG_NFIELDS] = {};
    for (int cpu = 0; cpu < ncpus_; cpu++) {
      const auto *v = reinterpret_cast<const uint64_t *>(percpu + cpu * stride);
      for (int f = 0; f < CG_NFIELDS; f++) sum[f] += v[f];
    }
    for (int f = 0; f < CG_NFIELDS; f++) vals.push_back(static_cast<double>(sum[f]));
  }

  // -> { ids: BigUint64Array, values: Float64Array (CG_NFIELDS per id, summed over CPUs), batched: boolean }
  Napi::Value Read(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Require(env);
    const int fd = bpf_map__fd(skel_->maps.cgroup_counters);
    const size_t stride = (sizeof(cg_counters) + 7) & ~size_t(7);
    const uint32_t chunk = 256;
    std::vector<uint64_t> ids;
    std::vector<double> vals;
    std::vector<uint64_t> keys(chunk);
    std::vector<uint8_t> buf(chunk * stride * ncpus_);
    bool batched = batch_ok_;
    if (batch_ok_) {
      uint64_t in_batch = 0, out_batch = 0;
      bool first = true;
      for (;;) {
        uint32_t count = chunk;
        LIBBPF_OPTS(bpf_map_batch_opts, bopts);
        int rc = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(), buf.data(), &count, &bopts);
        int e = rc < 0 ? errno : 0;
        if (rc < 0 && e != ENOENT) {
          if (first && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP)) {
            batch_ok_ = false;  // kernel without batch ops for this map type: iterate from now on
            batched = false;
            break;
          }
          throw Napi::Error::New(env, "bpf_map_lookup_batch: " + errno_text(e));
        }
        for (uint32_t k = 0; k < count; k++) Accumulate(&keys[k], buf.data() + k * stride * ncpus_, ids, vals);
        if (e == ENOENT) break;
        in_batch = out_batch;
        first = false;
      }
    }
    if (!batched) {
      ids.clear();
      vals.clear();
      uint64_t key = 0, next = 0;
      uint64_t *prev = nullptr;
      while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        if (bpf_map_lookup_elem(fd, &next, buf.data()) == 0) Accumulate(&next, buf.data(), ids, vals);
        key = next;
        prev = &key;
      }
    }
    Napi::Object out = Napi::Object::New(env);
    napi_value ab_ids;
    void *data = nullptr;
    napi_create_arraybuffer(env, ids.size() * 8, &data, &ab_ids);
    if (!ids.empty()) memcpy(data, ids.data(), ids.size() * 8);
    napi_value typed_ids;
    napi_create_typedarray(env, napi_biguint64_array, ids.size(), ab_ids, 0, &typed_ids);
    Napi::Float64Array values = Napi::Float64Array::New(env, vals.size());
    if (!vals.empty()) memcpy(values.Data(), vals.data(), vals.size() * 8);
    out.Set("ids", Napi::Value(env, typed_ids));
    out.Set("values", values);
    out.Set("batched", Napi::Boolean::New(env, batched));
    return out;
  }

  // remove(ids: BigUint64Array) -> number of entries freed
  Napi::Value Remove(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Require(env);
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "remove(BigUint64Array)");
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_biguint64_array) throw Napi::TypeError::New(env, "remove(BigUint64Array)");
    auto arr = ta.As<Napi::TypedArrayOf<uint64_t>>();
    const int fd = bpf_map__fd(skel_->maps.cgroup_counters);
    int freed = 0;
    for (size_t i = 0; i < arr.ElementLength(); i++) {
      uint64_t key = arr[i];
      if (bpf_map_delete_elem(fd, &key) == 0) freed++;
    }
    return Napi::Number::New(env, freed);
  }

  Napi::Value Dropped(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Require(env);
    std::vector<uint64_t> per_cpu(ncpus_);
    uint32_t key = CG_STAT_DROPPED;
    uint64_t total = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stats), &key, per_cpu.data()) == 0)
      for (uint64_t v : per_cpu) total += v;
    return Napi::Number::New(env, static_cast<double>(total));
  }

  // -> { variant, pmu: { cycles: null | reason, ... }, pmuStandIn, exitHook: null | reason, flush: null | reason, flushHz }
  Napi::Value Info(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("variant", variant_);
    Napi::Object pmu = Napi::Object::New(env);
    for (int i = 0; i < CG_PMU_N; i++)
      pmu.Set(kPmuNames[i], pmu_reason_[i].empty() ? env.Null() : Napi::String::New(env, pmu_reason_[i]));
    out.Set("pmu", pmu);
    out.Set("pmuStandIn", Napi::Boolean::New(env, pmu_standin_));
    out.Set("exitHook", exit_reason_.empty() ? env.Null() : Napi::String::New(env, exit_reason_));
    out.Set("flush", flush_reason_.empty() ? env.Null() : Napi::String::New(env, flush_reason_));
    out.Set("flushHz", Napi::Number::New(env, flush_hz_));
    return out;
  }

  Napi::Value DestroyJs(const Napi::CallbackInfo &info) {
    Cleanup();
    return info.Env().Undefined();
  }

  std::string variant_;
  cgroup_counters_bpf *skel_ = nullptr;
  bpf_link *link_ = nullptr;
  bpf_link *exit_link_ = nullptr;
  std::vector<bpf_link *> flush_links_;
  std::vector<int> flush_fds_;
  bool exit_hook_ = false;
  uint32_t flush_hz_ = 0;
  std::string exit_reason_;   // empty: attached
  std::string flush_reason_;  // empty: attached on every online CPU
  std::vector<char> object_;
  std::vector<int> pmu_fds_[CG_PMU_N];
  std::string pmu_reason_[CG_PMU_N];
  bool pmu_standin_ = false;
  int ncpus_ = 0;
  bool batch_ok_ = true;
  bool hooked_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", Session::Init(env));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("fields", Napi::String::New(env, CG_FIELD_NAMES));
  layout.Set("valueBytes", Napi::Number::New(env, sizeof(cg_counters)));
  layout.Set("nfields", Napi::Number::New(env, CG_NFIELDS));
  exports.Set("layout", layout);
  exports.Set("libbpfVersion", Napi::String::New(env, std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version())));
  return exports;
}

}  // namespace

NODE_API_MODULE(wattsched_bpf, Init)
