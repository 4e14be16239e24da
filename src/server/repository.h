// The models a server holds: discovered from a path, loaded by version
// policy, reloaded on request or by polling, swapped in atomically.
//
// Layouts of PATH:
//   a model file                      one model (named by --model_name or the
//                                     file's stem), version 1
//   PATH/<model>/<version>/<file>     integer versions
//   PATH/<model>/<file>               one unversioned model (version 1)
//   PATH/<version>/<file>, PATH/<file>  PATH itself is one model (KServe's
//                                     --model_dir=/mnt/models)
// A model folder may hold config.pbtxt (Triton's name and text format): its
// own version policy, dynamic batching and labels (see model_config.h). A
// config that does not parse keeps the model from loading (its versions that
// were serving go on), with the reason in the index and the log.
//
// A reload loads each wanted version beside the ones serving, then publishes
// the new set in one step. A version whose file is unchanged is kept as is;
// one that fails to load is recorded (reason in the index and the log) and the
// version that was serving stays. A request holds its version (a shared_ptr)
// until it ends, so it finishes on the version it started on.
//
// Thread safety: every method may be called from any thread. Loads are
// serialized; lookups never wait for a load.
#ifndef TIFFIN_SERVER_REPOSITORY_H_
#define TIFFIN_SERVER_REPOSITORY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/model_config.h"
#include "tiffin/model.h"
#include "tiffin/options.h"
#include "tiffin/status.h"

namespace tiffin::server {

// Triton's statistics for one model version; all times in nanoseconds.
struct VersionStats {
  std::atomic<uint64_t> success{0};
  std::atomic<uint64_t> failure{0};
  std::atomic<uint64_t> inference_count{0};  // rows (batch dim 0) inferred
  std::atomic<uint64_t> exec_count{0};       // model executions
  std::atomic<uint64_t> request_ns{0};       // received .. response ready
  std::atomic<uint64_t> queue_ns{0};         // received .. worker (and batch) start
  std::atomic<uint64_t> compute_ns{0};       // checks + Run
  std::atomic<uint64_t> fail_ns{0};
  std::atomic<uint64_t> batched_requests{0};  // requests that went through the batcher
  std::atomic<int64_t> last_inference_ms{0};  // Unix ms
};

struct ServedVersion {
  std::string model_name;
  int64_t version = 1;
  std::string path;
  std::string file_id;  // size, mtime and inode: a changed file reloads
  std::shared_ptr<const Model> model;
  std::shared_ptr<VersionStats> stats = std::make_shared<VersionStats>();
  BatchSettings batching;  // the flags', or the model's config.pbtxt
};

struct ModelState {
  std::string name;
  std::string source;  // the directory or file it comes from
  bool unloaded = false;
  bool gone = false;  // its folder was removed (found by polling); unloaded too
  std::map<int64_t, std::shared_ptr<const ServedVersion>> versions;  // serving
  std::map<int64_t, std::string> failed;     // version -> why it did not load
  std::map<int64_t, std::string> failed_id;  // version -> file_id that failed
  std::map<int64_t, std::string> removed;    // version -> why: its folder went away
  std::map<std::string, int64_t> labels;
  std::string config_error;  // config.pbtxt did not parse: versions keep their settings
  std::string config_id;     // config.pbtxt's size, mtime and inode ("" = none)
  bool ready() const { return !unloaded && !versions.empty(); }
  // "" when ready and nothing failed; else the reasons, "; "-joined.
  std::string reason() const;
};

struct RepositoryOptions {
  std::string path;
  std::string model_name;  // names a model given as a file or as PATH itself
  VersionPolicy policy;
  BatchSettings batching;  // dynamic batching (default off)
  // model -> label -> version ("stable" -> 3); "*" as model: every model.
  std::map<std::string, std::map<std::string, int64_t>> labels;
  LoadOptions load;
  // Structured log sink: (level, event, JSON object fields without braces).
  std::function<void(const std::string&, const std::string&, const std::string&)> log;
};

class Repository {
 public:
  explicit Repository(RepositoryOptions options);

  // Finds the models under the path and loads them. Errors: the path is
  // missing, holds no model, or (single model file) the model fails to load.
  Status Init();

  // Re-reads the repository: new models, new, changed and removed versions
  // and config.pbtxt changes. A model whose folder is gone is unloaded (it
  // shows as removed in the index, and loads again when it comes back); a
  // removed version folder unloads that version. Requests running on an
  // unloaded version finish on it.
  void Poll();

  // Loads (or reloads) a model by name; errors name why no version serves.
  Status Load(const std::string& name);
  // Stops serving a model; requests already running finish.
  Status Unload(const std::string& name);

  // The version a request names: `version` ("" = by label or latest),
  // `label` ("" = none). Errors: kNotFound naming the model or version.
  Result<std::shared_ptr<const ServedVersion>> Find(const std::string& name,
                                                    const std::string& version,
                                                    const std::string& label) const;
  std::shared_ptr<const ModelState> Get(const std::string& name) const;
  std::vector<std::shared_ptr<const ModelState>> Models() const;
  // Every known model that is not unloaded has a serving version.
  bool AllReady() const;

 private:
  struct Discovered {
    std::string name;
    std::string dir;
    bool versioned = false;
  };
  Status Reload(const Discovered& d);
  std::vector<Discovered> Discover(Status* status) const;
  void Log(const std::string& level, const std::string& event, const std::string& fields) const;

  RepositoryOptions options_;
  std::mutex load_mu_;  // one load at a time
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const ModelState>> models_;
  std::map<std::string, Discovered> sources_;
};

}  // namespace tiffin::server

#endif  // TIFFIN_SERVER_REPOSITORY_H_
