#include "server/repository.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>

#include "core/json.h"

namespace tiffin::server {

namespace fs = std::filesystem;

namespace {

bool ParseInt(std::string_view s, int64_t* v) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool Hidden(const fs::path& p) {
  const std::string n = p.filename().string();
  return n.empty() || n[0] == '.' || n[0] == '_';
}

// Files beside a model that are not the model.
bool NotAModel(const fs::path& p) {
  const std::string ext = p.extension().string();
  const std::string n = p.filename().string();
  return ext == ".md" || ext == ".txt" || ext == ".yaml" || ext == ".yml" || ext == ".pbtxt" ||
         ext == ".csv" || n == "input.json" || n == "MLmodel";
}

std::string FileId(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
}

// The one model file in `dir`.
Result<std::string> PickModelFile(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (Hidden(e.path()) || NotAModel(e.path())) continue;
    if (e.is_regular_file(ec)) files.push_back(e.path());
  }
  if (ec) return NotFound("cannot list '" + dir + "': " + ec.message());
  if (files.empty()) return NotFound("no model file in '" + dir + "'");
  if (files.size() == 1) return files[0].string();
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    if (f.stem() == "model") return f.string();
  std::string names;
  for (const auto& f : files) names += (names.empty() ? "" : ", ") + f.filename().string();
  return InvalidArgument("'" + dir + "' holds several files (" + names +
                         "); keep one model per directory or name it model.<ext>");
}

}  // namespace

std::string ModelState::reason() const {
  std::string out;
  if (gone)
    out = "removed from the repository";
  else if (unloaded)
    out = "unloaded";
  if (!config_error.empty()) out += (out.empty() ? "" : "; ") + config_error;
  for (const auto& [v, why] : failed) {
    if (!out.empty()) out += "; ";
    out += "version " + std::to_string(v) + ": " + why;
  }
  return out;
}

Repository::Repository(RepositoryOptions options) : options_(std::move(options)) {}

void Repository::Log(const std::string& level, const std::string& event,
                     const std::string& fields) const {
  if (options_.log) options_.log(level, event, fields);
}

std::vector<Repository::Discovered> Repository::Discover(Status* status) const {
  std::vector<Discovered> out;
  std::error_code ec;
  const fs::path root(options_.path);
  auto name_of_root = [&] {
    if (!options_.model_name.empty()) return options_.model_name;
    fs::path p = root;
    if (p.filename().empty()) p = p.parent_path();
    return fs::is_regular_file(p, ec) ? p.stem().string() : p.filename().string();
  };
  if (fs::is_regular_file(root, ec)) {
    out.push_back({name_of_root(), root.string(), false});
    return out;
  }
  if (!fs::is_directory(root, ec)) {
    *status = NotFound("model path '" + options_.path + "' does not exist");
    return out;
  }
  std::vector<fs::path> dirs, files;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (Hidden(e.path())) continue;
    if (e.is_directory(ec))
      dirs.push_back(e.path());
    else if (e.is_regular_file(ec) && !NotAModel(e.path()))
      files.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  auto has_int_subdir = [&](const fs::path& d) {
    std::error_code e2;
    for (const auto& s : fs::directory_iterator(d, e2)) {
      int64_t v;
      if (s.is_directory(e2) && ParseInt(s.path().filename().string(), &v)) return true;
    }
    return false;
  };
  bool all_int = !dirs.empty();
  for (const auto& d : dirs) {
    int64_t v;
    if (!ParseInt(d.filename().string(), &v)) all_int = false;
  }
  if (all_int) {
    out.push_back({name_of_root(), root.string(), true});
  } else if (!dirs.empty()) {
    for (const auto& d : dirs) {
      int64_t v;
      if (ParseInt(d.filename().string(), &v)) continue;
      out.push_back({d.filename().string(), d.string(), has_int_subdir(d)});
    }
  } else if (!files.empty()) {
    out.push_back({name_of_root(), root.string(), false});
  } else {
    *status = NotFound("no model under '" + options_.path +
                       "' (expected a model file, PATH/<model>/<version>/<file> or "
                       "PATH/<model>/<file>)");
  }
  return out;
}

Status Repository::Init() {
  Status s;
  auto found = Discover(&s);
  TIFFIN_RETURN_IF_ERROR(s);
  {
    std::lock_guard<std::mutex> lock(load_mu_);
    for (const auto& d : found) sources_[d.name] = d;
  }
  const bool single_file = found.size() == 1 && fs::is_regular_file(found[0].dir);
  for (const auto& d : found) {
    std::lock_guard<std::mutex> lock(load_mu_);
    Status r = Reload(d);
    if (!r.ok() && single_file) return r;
  }
  return Status::Ok();
}

void Repository::Poll() {
  Status s;
  auto found = Discover(&s);
  std::error_code ec;
  if (!s.ok() && !(found.empty() && fs::is_directory(options_.path, ec))) {
    Log("warning", "poll", "\"error\":" + JsonQuote(s.message()));
    return;
  }
  std::lock_guard<std::mutex> lock(load_mu_);
  std::set<std::string> seen;
  for (const auto& d : found) {
    seen.insert(d.name);
    sources_[d.name] = d;
    auto cur = Get(d.name);
    if (cur && cur->unloaded && !cur->gone) continue;  // unloaded through the API: stays so
    (void)Reload(d);
  }
  // Models whose folder went away: unloaded, as TF Serving and Triton's POLL
  // mode do. Requests holding one of their versions finish on it.
  for (const auto& m : Models()) {
    if (seen.count(m->name) || m->gone) continue;
    auto next = std::make_shared<ModelState>();
    next->name = m->name;
    next->source = m->source;
    next->unloaded = true;
    next->gone = true;
    for (const auto& [v, sv] : m->versions) next->removed[v] = "model folder removed";
    {
      std::lock_guard<std::mutex> l(mu_);
      models_[m->name] = next;
    }
    sources_.erase(m->name);
    Log("info", "model_removed",
        "\"model\":" + JsonQuote(m->name) + ",\"source\":" + JsonQuote(m->source));
  }
}

Status Repository::Load(const std::string& name) {
  std::lock_guard<std::mutex> lock(load_mu_);
  if (!sources_.count(name)) {
    Status s;
    for (const auto& d : Discover(&s)) sources_[d.name] = d;
  }
  auto it = sources_.find(name);
  if (it == sources_.end()) {
    return NotFound("no model named '" + name + "' under '" + options_.path + "'");
  }
  return Reload(it->second);
}

Status Repository::Unload(const std::string& name) {
  std::lock_guard<std::mutex> lock(load_mu_);
  auto cur = Get(name);
  if (!cur) return NotFound("model '" + name + "' is not served");
  auto next = std::make_shared<ModelState>();
  next->name = cur->name;
  next->source = cur->source;
  next->unloaded = true;
  {
    std::lock_guard<std::mutex> l(mu_);
    models_[name] = next;
  }
  Log("info", "model_unloaded", "\"model\":" + JsonQuote(name));
  return Status::Ok();
}

Status Repository::Reload(const Discovered& d) {
  // Versions on disk: version -> model file (or why there is none).
  std::map<int64_t, Result<std::string>> on_disk;
  std::error_code ec;
  const bool is_dir = fs::is_directory(d.dir, ec);
  if (!is_dir) {
    on_disk.emplace(1, d.dir);
  } else if (d.versioned) {
    for (const auto& e : fs::directory_iterator(d.dir, ec)) {
      int64_t v;
      if (!e.is_directory(ec) || !ParseInt(e.path().filename().string(), &v)) continue;
      on_disk.emplace(v, PickModelFile(e.path().string()));
    }
  } else {
    on_disk.emplace(1, PickModelFile(d.dir));
  }

  auto old = Get(d.name);
  if (old && old->gone) old = nullptr;  // came back: a fresh start
  auto next = std::make_shared<ModelState>();
  next->name = d.name;
  next->source = d.dir;
  const std::string fields = "\"model\":" + JsonQuote(d.name);

  // The model's own settings (config.pbtxt beside its versions), over the flags.
  VersionPolicy policy = options_.policy;
  BatchSettings batching = options_.batching;
  for (const auto& key : {std::string("*"), d.name}) {
    auto it = options_.labels.find(key);
    if (it != options_.labels.end())
      for (const auto& [l, v] : it->second) next->labels[l] = v;
  }
  if (is_dir) {
    const std::string cfg_path = (fs::path(d.dir) / kModelConfigFile).string();
    next->config_id = FileId(cfg_path);
    const bool changed = !old || old->config_id != next->config_id;
    if (!next->config_id.empty()) {
      auto cfg = ReadModelConfig(cfg_path, options_.batching);
      if (cfg.ok() && !cfg->name.empty() && cfg->name != d.name) {
        cfg = InvalidArgument(cfg_path + ": name '" + cfg->name + "' is not the model's folder '" +
                              d.name + "' (fix the name or leave it out)");
      }
      if (!cfg.ok()) {
        // The model does not load with a config it cannot read; versions that
        // were serving (with the previous config) go on serving.
        next->config_error = "config.pbtxt: " + cfg.status().message();
        if (changed) {
          Log("error", "model_config_invalid",
              fields + ",\"path\":" + JsonQuote(cfg_path) +
                  ",\"reason\":" + JsonQuote(cfg.status().message()));
        }
        if (old) {
          next->versions = old->versions;
          next->labels = old->labels;
          next->removed = old->removed;
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          models_[d.name] = next;
        }
        return FailedPrecondition("model '" + d.name + "' not loaded: " + next->config_error);
      }
      if (changed) {
        for (const auto& w : cfg->warnings)
          Log("warning", "model_config", fields + ",\"detail\":" + JsonQuote(w));
        Log("info", "model_config", fields + ",\"path\":" + JsonQuote(cfg_path));
      }
      if (cfg->policy) policy = *cfg->policy;
      if (cfg->batching) batching = *cfg->batching;
      for (const auto& [l, v] : cfg->labels) next->labels[l] = v;
    }
  }

  std::vector<int64_t> order;
  const VersionPolicy& p = policy;
  if (p.kind == VersionPolicy::kSpecific) {
    order = p.specific;
  } else {
    for (auto it = on_disk.rbegin(); it != on_disk.rend(); ++it) order.push_back(it->first);
  }
  auto same_batching = [](const BatchSettings& a, const BatchSettings& b) {
    return a.max_batch_size == b.max_batch_size && a.max_queue_delay_us == b.max_queue_delay_us;
  };
  // A version kept as is, with the model's current settings.
  auto keep = [&](const std::shared_ptr<const ServedVersion>& sv) {
    if (same_batching(sv->batching, batching)) return sv;
    auto copy = std::make_shared<ServedVersion>(*sv);  // same model and counters
    copy->batching = batching;
    return std::shared_ptr<const ServedVersion>(std::move(copy));
  };
  int loaded = 0;
  for (int64_t v : order) {
    if (p.kind == VersionPolicy::kLatest && loaded >= p.latest) break;
    std::shared_ptr<const ServedVersion> previous;
    if (old && !old->unloaded) {
      auto it = old->versions.find(v);
      if (it != old->versions.end()) previous = it->second;
    }
    auto disk = on_disk.find(v);
    if (disk == on_disk.end()) {
      if (old && old->removed.count(v)) {
        next->removed[v] = old->removed.at(v);
      } else if (previous) {
        next->removed[v] = "version folder removed";
      } else {
        next->failed[v] = "not found under '" + d.dir + "'";
      }
      continue;
    }
    if (!disk->second.ok()) {
      next->failed[v] = disk->second.status().message();
      if (previous) next->versions[v] = keep(previous), ++loaded;
      continue;
    }
    const std::string& path = *disk->second;
    const std::string id = FileId(path);
    if (previous && previous->file_id == id) {
      next->versions[v] = keep(previous);
      ++loaded;
      continue;
    }
    if (old) {
      auto f = old->failed_id.find(v);
      if (f != old->failed_id.end() && f->second == id) {  // same broken file: not again
        next->failed[v] = old->failed.at(v);
        next->failed_id[v] = id;
        if (previous) next->versions[v] = keep(previous), ++loaded;
        continue;
      }
    }
    auto t0 = std::chrono::steady_clock::now();
    auto model = LoadModel(path, options_.load);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!model.ok()) {
      next->failed[v] = model.status().ToString();
      next->failed_id[v] = id;
      Log("error", "model_load_failed",
          fields + ",\"version\":" + std::to_string(v) + ",\"path\":" + JsonQuote(path) +
              ",\"reason\":" + JsonQuote(model.status().ToString()) +
              (previous ? ",\"still_serving\":" + std::to_string(v) : std::string()));
      if (previous) next->versions[v] = keep(previous), ++loaded;
      continue;
    }
    auto sv = std::make_shared<ServedVersion>();
    sv->model_name = d.name;
    sv->version = v;
    sv->path = path;
    sv->file_id = id;
    sv->model = std::move(model).value();
    sv->batching = batching;
    if (previous) sv->stats = previous->stats;  // same version, new file: counters go on
    next->versions[v] = std::move(sv);
    ++loaded;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", ms);
    Log("info", "model_loaded",
        fields + ",\"version\":" + std::to_string(v) + ",\"path\":" + JsonQuote(path) +
            ",\"load_ms\":" + buf);
  }
  // With latest:N, newer versions that failed still keep older ones serving
  // (the loop above went on down). Versions that were serving or removed and
  // are no longer on disk are listed as removed.
  if (old) {
    for (const auto& [v, sv] : old->versions) {
      if (on_disk.count(v) || next->removed.count(v)) continue;
      next->removed[v] = "version folder removed";
    }
    for (const auto& [v, why] : old->removed)
      if (!on_disk.count(v) && !next->removed.count(v)) next->removed[v] = why;
  }
  for (const auto& [v, why] : next->removed) {
    if (old && !old->removed.count(v)) {
      Log("info", "version_removed", fields + ",\"version\":" + std::to_string(v));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    models_[d.name] = next;
  }
  if (next->versions.empty()) {
    return FailedPrecondition("model '" + d.name + "' has no version that loads: " +
                              (next->failed.empty() ? "no versions found" : next->reason()));
  }
  return Status::Ok();
}

std::shared_ptr<const ModelState> Repository::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const ModelState>> Repository::Models() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const ModelState>> out;
  for (const auto& [n, m] : models_) out.push_back(m);
  return out;
}

bool Repository::AllReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (models_.empty()) return false;
  for (const auto& [n, m] : models_)
    if (!m->unloaded && m->versions.empty()) return false;
  return true;
}

Result<std::shared_ptr<const ServedVersion>> Repository::Find(const std::string& name,
                                                              const std::string& version,
                                                              const std::string& label) const {
  auto m = Get(name);
  if (!m) {
    std::string names;
    for (const auto& s : Models()) names += (names.empty() ? "" : ", ") + s->name;
    return NotFound("model '" + name + "' is not served (models: " + names + ")");
  }
  if (m->gone) return NotFound("model '" + name + "' was removed from the repository");
  if (m->unloaded) return NotFound("model '" + name + "' is unloaded");
  std::string available;
  for (const auto& [v, sv] : m->versions)
    available += (available.empty() ? "" : ", ") + std::to_string(v);
  int64_t v = -1;
  if (!label.empty()) {
    auto it = m->labels.find(label);
    if (it == m->labels.end()) {
      return NotFound("model '" + name + "' has no label '" + label + "'");
    }
    v = it->second;
  } else if (!version.empty()) {
    if (!ParseInt(version, &v)) {
      return NotFound("model '" + name + "' has no version '" + version +
                      "' (versions are integers; serving: " + available + ")");
    }
  } else {
    if (m->versions.empty()) {
      return NotFound("model '" + name + "' has no version serving: " + m->reason());
    }
    return m->versions.rbegin()->second;
  }
  auto it = m->versions.find(v);
  if (it == m->versions.end()) {
    auto f = m->failed.find(v);
    auto r = m->removed.find(v);
    return NotFound("model '" + name + "' version " + std::to_string(v) + " is not serving" +
                    (f != m->failed.end()    ? " (" + f->second + ")"
                     : r != m->removed.end() ? " (" + r->second + ")"
                                             : "") +
                    " (serving: " + available + ")");
  }
  return it->second;
}

}  // namespace tiffin::server
