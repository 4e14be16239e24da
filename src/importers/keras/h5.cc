#include "importers/keras/h5.h"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>

namespace tiffin::keras {
namespace {

// Bounds on what a weight file may declare.
constexpr int kMaxRank = 8;
constexpr size_t kMaxNames = 100000;        // layers in `layer_names`, weights per layer
constexpr size_t kMaxAttrBytes = 64 << 20;  // one string attribute (model_config)
constexpr int kMaxDepth = 32;               // group nesting walked in Keras 3 files
constexpr size_t kMaxGroups = 200000;       // groups visited in Keras 3 files

// What a reader child may send back: the weights can be compressed inside
// the file, so more than the image, but each tensor is bounded by
// max_tensor_bytes and the whole by this.
uint64_t MaxAnswerBytes(std::string_view image, size_t max_tensor_bytes) {
  return std::max<uint64_t>(uint64_t{64} * image.size() + (uint64_t{64} << 20),
                            uint64_t{4} * max_tensor_bytes);
}

std::mutex& H5Lock() {
  static std::mutex m;
  return m;
}

void SilenceHdf5() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

// Closes an HDF5 id when it leaves scope.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Id() {
    if (id_ >= 0) close_(id_);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  Closer close_;
};

Result<hid_t> OpenImage(std::string_view image) {
  SilenceHdf5();
  if (image.size() < 8)
    return DataLoss("the HDF5 image is truncated (" + std::to_string(image.size()) + " bytes)");
  // H5LTopen_file_image copies the buffer (flags 0): the file stays valid
  // whatever happens to `image`, and it is opened read-only.
  hid_t f = H5LTopen_file_image(const_cast<char*>(image.data()), image.size(), 0);
  if (f < 0) return DataLoss("libhdf5 could not open the HDF5 data (damaged or not HDF5)");
  return f;
}

bool HasAttr(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

// A string attribute (scalar or 1-D, fixed or variable length) as strings.
// An empty numeric array (how h5py writes an empty list) reads as no strings.
Result<std::vector<std::string>> ReadStringsAttr(hid_t obj, const std::string& name) {
  Id attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return DataLoss("cannot open HDF5 attribute '" + name + "'");
  Id type(H5Aget_type(attr.get()), H5Tclose);
  Id space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.ok() || !space.ok()) return DataLoss("HDF5 attribute '" + name + "' is damaged");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || static_cast<size_t>(n) > kMaxNames) {
    return DataLoss("HDF5 attribute '" + name + "' has " + std::to_string(n) +
                    " elements (at most " + std::to_string(kMaxNames) + " read)");
  }
  std::vector<std::string> out;
  if (n == 0) return out;
  if (H5Tget_class(type.get()) != H5T_STRING) {
    return DataLoss("HDF5 attribute '" + name + "' is not text");
  }
  const size_t count = static_cast<size_t>(n);
  if (H5Tis_variable_str(type.get()) > 0) {
    Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> ptrs(count, nullptr);
    if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0)
      return DataLoss("cannot read HDF5 attribute '" + name + "'");
    size_t total = 0;
    for (char* p : ptrs) {
      std::string s = p ? std::string(p, strnlen(p, kMaxAttrBytes)) : std::string();
      total += s.size();
      out.push_back(std::move(s));
    }
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    if (total >= kMaxAttrBytes)
      return ResourceExhausted("HDF5 attribute '" + name + "' is larger than 64 MiB");
    return out;
  }
  const size_t width = H5Tget_size(type.get());
  if (width == 0 || width > kMaxAttrBytes || width * count > kMaxAttrBytes) {
    return ResourceExhausted("HDF5 attribute '" + name + "' is larger than 64 MiB");
  }
  std::string buf(width * count, '\0');
  Id mem(H5Tcopy(type.get()), H5Tclose);
  if (H5Aread(attr.get(), mem.get(), buf.data()) < 0)
    return DataLoss("cannot read HDF5 attribute '" + name + "'");
  for (size_t i = 0; i < count; ++i) {
    std::string s = buf.substr(i * width, width);
    s.resize(strnlen(s.data(), s.size()));
    out.push_back(std::move(s));
  }
  return out;
}

// A string attribute that Keras may have split into chunks `name0`,
// `name1`, ... (attributes over 64 KiB).
Result<std::vector<std::string>> ReadChunkedNames(hid_t obj, const std::string& name) {
  if (HasAttr(obj, name.c_str())) return ReadStringsAttr(obj, name);
  std::vector<std::string> out;
  for (size_t i = 0; HasAttr(obj, (name + std::to_string(i)).c_str()); ++i) {
    TIFFIN_ASSIGN_OR_RETURN(auto part, ReadStringsAttr(obj, name + std::to_string(i)));
    out.insert(out.end(), part.begin(), part.end());
    if (out.size() > kMaxNames) return DataLoss("too many names in attribute '" + name + "'");
  }
  return out;
}

Result<std::string> ReadTextAttr(hid_t obj, const char* name) {
  if (!HasAttr(obj, name)) return std::string();
  TIFFIN_ASSIGN_OR_RETURN(auto v, ReadStringsAttr(obj, name));
  return v.empty() ? std::string() : v[0];
}

// True when every component of `path` (relative to `loc`) is a hard link:
// soft and external links (which may name other files on disk) are never
// followed.
Status CheckHardLinks(hid_t loc, const std::string& path) {
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    const std::string prefix = path.substr(0, slash);
    if (!prefix.empty()) {
      H5L_info_t info;
      if (H5Lget_info(loc, prefix.c_str(), &info, H5P_DEFAULT) < 0)
        return DataLoss("the weight file has no '" + path + "'");
      if (info.type != H5L_TYPE_HARD) {
        return InvalidArgument("'" + prefix +
                               "' is a soft or external HDF5 link; tiffin reads only data "
                               "stored inside the file");
      }
    }
    pos = slash + 1;
  }
  return Status();
}

// A numeric dataset as float32.
Result<Tensor> ReadDataset(hid_t loc, const std::string& path, size_t max_bytes) {
  if (H5Lexists(loc, path.c_str(), H5P_DEFAULT) <= 0) {
    return DataLoss("the weight file has no dataset '" + path + "'");
  }
  TIFFIN_RETURN_IF_ERROR(CheckHardLinks(loc, path));
  Id ds(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return DataLoss("cannot open HDF5 dataset '" + path + "'");
  {
    // Raw data in other files (external storage, virtual datasets) is refused:
    // a weight file must not read the disk around it.
    Id dcpl(H5Dget_create_plist(ds.get()), H5Pclose);
    if (!dcpl.ok()) return DataLoss("HDF5 dataset '" + path + "' is damaged");
    if (H5Pget_external_count(dcpl.get()) != 0 || H5Pget_layout(dcpl.get()) == H5D_VIRTUAL) {
      return InvalidArgument("weight '" + path +
                             "' stores its data in another file (external or virtual "
                             "dataset); tiffin reads only data stored inside the file");
    }
  }
  if (HasAttr(ds.get(), "dtype")) {
    TIFFIN_ASSIGN_OR_RETURN(std::string dt, ReadTextAttr(ds.get(), "dtype"));
    return NotSupported("weight '" + path + "' is stored as " + dt +
                        "; tiffin reads float16/32/64 and integer weights");
  }
  Id type(H5Dget_type(ds.get()), H5Tclose);
  Id space(H5Dget_space(ds.get()), H5Sclose);
  if (!type.ok() || !space.ok()) return DataLoss("HDF5 dataset '" + path + "' is damaged");
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    return NotSupported("weight '" + path + "' is not numeric");
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > kMaxRank) {
    return DataLoss("weight '" + path + "' has rank " + std::to_string(rank) + " (at most " +
                    std::to_string(kMaxRank) + ")");
  }
  hsize_t dims[kMaxRank] = {};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  Shape shape;
  size_t elems = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > (hsize_t{1} << 40) || (dims[i] && elems > max_bytes / 4 / dims[i])) {
      return ResourceExhausted("weight '" + path + "' is larger than the " +
                               std::to_string(max_bytes) + "-byte tensor limit");
    }
    elems *= dims[i];
    shape.push_back(static_cast<int64_t>(dims[i]));
  }
  // A compressed (chunked) dataset may declare far more data than the file
  // holds: refuse ratios no weight file has (zeros compress about 1000:1).
  const hsize_t stored = H5Dget_storage_size(ds.get());
  if (elems * 4 > (size_t{64} << 20) && elems * 4 / std::max<hsize_t>(stored, 1) > 1000) {
    return ResourceExhausted("weight '" + path + "' declares " + std::to_string(elems * 4) +
                             " bytes from " + std::to_string(stored) +
                             " stored: refused as a decompression bomb");
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kFloat32, shape, max_bytes));
  if (elems > 0 &&
      H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0) {
    return DataLoss("cannot read weight '" + path + "'");
  }
  return t;
}

// The part of a Keras weight name that says what it is:
// "dense_1/kernel:0" -> "kernel", "lstm/lstm_cell/recurrent_kernel" ->
// "recurrent_kernel".
std::string TrailingName(const std::string& w) {
  std::string s = w;
  if (auto c = s.rfind(':'); c != std::string::npos) s.resize(c);
  if (auto sl = s.rfind('/'); sl != std::string::npos) s = s.substr(sl + 1);
  return s;
}

// Lists the names of the links in group `g`.
Result<std::vector<std::string>> Children(hid_t g) {
  H5G_info_t info;
  if (H5Gget_info(g, &info) < 0) return DataLoss("cannot list an HDF5 group");
  if (info.nlinks > kMaxNames) return DataLoss("an HDF5 group has too many members");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len =
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0 || len > 4096) return DataLoss("an HDF5 link name is damaged");
    std::string name(static_cast<size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<size_t>(len));
    names.push_back(std::move(name));
  }
  return names;
}

bool IsGroup(hid_t loc, const std::string& name) {
  if (name == "/") return true;
  if (H5Lexists(loc, name.c_str(), H5P_DEFAULT) <= 0) return false;
  if (!CheckHardLinks(loc, name).ok()) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(loc, name.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

Status WalkKeras3(hid_t g, const std::string& path, int depth, size_t* visited, size_t max_bytes,
                  std::map<std::string, std::vector<Tensor>>* out) {
  if (depth > kMaxDepth) return DataLoss("the weight file nests groups too deeply");
  if (++*visited > kMaxGroups) return DataLoss("the weight file has too many groups");
  TIFFIN_ASSIGN_OR_RETURN(std::vector<std::string> names, Children(g));
  for (const auto& name : names) {
    if (!IsGroup(g, name)) continue;
    if (depth == 0 && name != "layers" && name != "_layer_checkpoint_dependencies" &&
        name != "vars") {
      continue;  // optimizer, metrics: not needed to predict
    }
    Id child(H5Gopen2(g, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!child.ok()) return DataLoss("cannot open HDF5 group '" + path + name + "'");
    if (name == "vars") {
      TIFFIN_ASSIGN_OR_RETURN(std::vector<std::string> vars, Children(child.get()));
      std::vector<Tensor> values(vars.size());
      for (const auto& v : vars) {
        size_t idx = 0;
        if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
            (idx = std::stoul(v)) >= vars.size()) {
          return DataLoss("weight '" + path + "vars/" + v + "' is not numbered 0.." +
                          std::to_string(vars.size() - 1));
        }
        TIFFIN_ASSIGN_OR_RETURN(values[idx], ReadDataset(child.get(), v, max_bytes));
      }
      std::string key = path.empty() ? "" : path.substr(0, path.size() - 1);
      (*out)[key] = std::move(values);
      continue;
    }
    TIFFIN_RETURN_IF_ERROR(
        WalkKeras3(child.get(), path + name + "/", depth + 1, visited, max_bytes, out));
  }
  return Status();
}

}  // namespace

namespace {

// The readers proper. They run in a child process (RunIsolated below); the
// caller holds H5Lock().
Result<LegacyH5> ReadLegacyH5Here(std::string_view image, size_t max_tensor_bytes) {
  TIFFIN_ASSIGN_OR_RETURN(hid_t fid, OpenImage(image));
  Id file(fid, H5Fclose);
  LegacyH5 out;
  TIFFIN_ASSIGN_OR_RETURN(out.model_config, ReadTextAttr(file.get(), "model_config"));
  TIFFIN_ASSIGN_OR_RETURN(out.keras_version, ReadTextAttr(file.get(), "keras_version"));
  TIFFIN_ASSIGN_OR_RETURN(out.backend, ReadTextAttr(file.get(), "backend"));
  const bool full = IsGroup(file.get(), "model_weights");
  Id weights(full ? H5Gopen2(file.get(), "model_weights", H5P_DEFAULT)
                  : H5Gopen2(file.get(), "/", H5P_DEFAULT),
             H5Gclose);
  if (!weights.ok()) return DataLoss("cannot open the HDF5 weights group");
  if (out.keras_version.empty()) {
    TIFFIN_ASSIGN_OR_RETURN(out.keras_version, ReadTextAttr(weights.get(), "keras_version"));
  }
  if (!HasAttr(weights.get(), "layer_names") && !HasAttr(weights.get(), "layer_names0")) {
    if (IsGroup(file.get(), "layers") || IsGroup(file.get(), "_layer_checkpoint_dependencies")) {
      return NotSupported(
          "this is a Keras 3 weights file (model.weights.h5) on its own; give the whole "
          ".keras archive instead");
    }
    return InvalidArgument(
        "this HDF5 file is not a Keras model: it has no 'layer_names' attribute (neither on "
        "the root nor on 'model_weights')");
  }
  TIFFIN_ASSIGN_OR_RETURN(std::vector<std::string> layer_names,
                          ReadChunkedNames(weights.get(), "layer_names"));
  for (const auto& layer : layer_names) {
    if (layer.empty() || !IsGroup(weights.get(), layer)) {
      return DataLoss("the weight file lists layer '" + layer + "' but has no group for it");
    }
    Id g(H5Gopen2(weights.get(), layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) return DataLoss("cannot open the weights of layer '" + layer + "'");
    TIFFIN_ASSIGN_OR_RETURN(std::vector<std::string> wnames,
                            ReadChunkedNames(g.get(), "weight_names"));
    LayerWeights lw;
    for (const auto& w : wnames) {
      auto t = ReadDataset(g.get(), w, max_tensor_bytes);
      if (!t.ok()) return t.status().WithContext("layer '" + layer + "'");
      lw.names.push_back(TrailingName(w));
      lw.paths.push_back(w);
      lw.values.push_back(std::move(*t));
    }
    out.layers[layer] = std::move(lw);
  }
  return out;
}

Result<std::map<std::string, std::vector<Tensor>>> ReadKeras3WeightsHere(std::string_view image,
                                                                         size_t max_tensor_bytes) {
  TIFFIN_ASSIGN_OR_RETURN(hid_t fid, OpenImage(image));
  Id file(fid, H5Fclose);
  Id root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
  if (!root.ok()) return DataLoss("cannot open the root of model.weights.h5");
  std::map<std::string, std::vector<Tensor>> out;
  size_t visited = 0;
  TIFFIN_RETURN_IF_ERROR(WalkKeras3(root.get(), "", 0, &visited, max_tensor_bytes, &out));
  return out;
}

// The child's answer on the pipe: a status, then (when OK) the result.
class Writer {
 public:
  void U64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void Str(std::string_view v) {
    U64(v.size());
    out_.append(v);
  }
  Status Put(const Tensor& t) {
    if (t.dtype() == DType::kString) return NotSupported("a text dataset holds weights");
    U64(static_cast<uint64_t>(t.dtype()));
    U64(t.shape().size());
    for (int64_t d : t.shape()) U64(static_cast<uint64_t>(d));
    Str(std::string_view(static_cast<const char*>(t.raw_data()), t.nbytes()));
    return Status::Ok();
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// Reads what Writer wrote, every length checked against what is left.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U64(uint64_t* v) {
    if (in_.size() - at_ < sizeof *v) return false;
    std::memcpy(v, in_.data() + at_, sizeof *v);
    at_ += sizeof *v;
    return true;
  }
  bool Str(std::string* v) {
    uint64_t n = 0;
    if (!U64(&n) || n > in_.size() - at_) return false;
    v->assign(in_.data() + at_, n);
    at_ += n;
    return true;
  }
  bool Get(Tensor* t, size_t max_tensor_bytes) {
    uint64_t dtype = 0, rank = 0;
    if (!U64(&dtype) || !U64(&rank) || rank > kMaxRank || dtype == 0 ||
        dtype > static_cast<uint64_t>(DType::kUInt64) ||
        dtype == static_cast<uint64_t>(DType::kString)) {
      return false;
    }
    Shape shape(rank);
    for (auto& d : shape) {
      uint64_t v = 0;
      if (!U64(&v) || v > (uint64_t{1} << 40)) return false;
      d = static_cast<int64_t>(v);
    }
    uint64_t n = 0;
    if (!U64(&n) || n > in_.size() - at_) return false;
    auto made = Tensor::Allocate(static_cast<DType>(dtype), shape, max_tensor_bytes);
    if (!made.ok() || made->nbytes() != n) return false;
    std::memcpy(made->raw_data(), in_.data() + at_, n);
    at_ += n;
    *t = std::move(*made);
    return true;
  }
  bool done() const { return at_ == in_.size(); }

 private:
  std::string_view in_;
  size_t at_ = 0;
};

// Runs `read` in a forked child and returns what it returned. libhdf5 1.10
// trusts lengths and offsets in the file: fuzzing found damaged files that
// make it loop forever, read out of bounds or ask for 2^63 bytes
// (fuzz/known_libhdf5_bugs/). In a child, the worst a file can do is kill
// the child or run out its time; the caller gets an error naming the file
// as damaged, and a server that loads it keeps serving.
template <typename T>
Result<T> RunIsolated(const std::function<Result<T>()>& read,
                      const std::function<Status(Writer&, const T&)>& put,
                      const std::function<bool(Reader&, T*)>& get, int timeout_ms,
                      uint64_t max_answer_bytes) {
  // Held across fork(): no other thread is inside libhdf5 or holds the
  // lock when the child's copy of it is made, so the child cannot inherit
  // a lock nobody will release.
  std::lock_guard<std::mutex> lock(H5Lock());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return ResourceExhausted(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return ResourceExhausted(std::string("cannot fork to read HDF5: ") + std::strerror(errno));
  }
  if (pid == 0) {  // the child: read, answer, exit without running destructors
    ::close(fds[0]);
    Writer w;
    Result<T> r = read();
    Status st = r.ok() ? put(w, *r) : r.status();
    Writer head;
    head.U64(static_cast<uint64_t>(st.code()));
    head.Str(st.message());
    if (st.ok()) head.bytes() += w.bytes();
    const std::string& out = head.bytes();
    for (size_t at = 0; at < out.size();) {
      const ssize_t n = ::write(fds[1], out.data() + at, out.size() - at);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        ::_exit(3);
      }
      at += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string answer;
  bool timed_out = false, too_big = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[1 << 16];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end (exited)
    if (answer.size() + static_cast<size_t>(n) > max_answer_bytes) {
      too_big = true;
      break;
    }
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out || too_big) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return DataLoss("libhdf5 did not finish reading this HDF5 file within " +
                    std::to_string(timeout_ms / 1000) +
                    " s (a damaged file can make it loop); re-save the model");
  }
  if (too_big) return ResourceExhausted("the HDF5 file's weights exceed the load limits");
  // A signal, or (under a sanitizer, which reports and exits) a non-zero
  // status: either way the child died inside libhdf5 before answering.
  if (WIFSIGNALED(wstatus) || (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0)) {
    const std::string how = WIFSIGNALED(wstatus)
                                ? "signal " + std::to_string(WTERMSIG(wstatus))
                                : "exit status " + std::to_string(WEXITSTATUS(wstatus));
    return DataLoss("libhdf5 crashed reading this HDF5 file (" + how +
                    "): its structure is damaged; re-save or re-download the model");
  }
  Reader r(answer);
  uint64_t code = 0;
  std::string message;
  if (!r.U64(&code) || !r.Str(&message) || code > static_cast<uint64_t>(StatusCode::kInternal)) {
    return Internal("the HDF5 reader process ended without an answer");
  }
  if (code != static_cast<uint64_t>(StatusCode::kOk)) {
    return Status(static_cast<StatusCode>(code), message);
  }
  T out;
  if (!get(r, &out) || !r.done()) return Internal("the HDF5 reader process answered garbage");
  return out;
}

}  // namespace

Result<LegacyH5> ReadLegacyH5(std::string_view image, size_t max_tensor_bytes, int timeout_ms) {
  auto put = [](Writer& w, const LegacyH5& h) -> Status {
    w.Str(h.model_config);
    w.Str(h.keras_version);
    w.Str(h.backend);
    w.U64(h.layers.size());
    for (const auto& [name, lw] : h.layers) {
      w.Str(name);
      w.U64(lw.names.size());
      for (const auto& n : lw.names) w.Str(n);
      for (const auto& p : lw.paths) w.Str(p);
      w.U64(lw.values.size());
      for (const auto& t : lw.values) TIFFIN_RETURN_IF_ERROR(w.Put(t));
    }
    return Status::Ok();
  };
  auto get = [max_tensor_bytes](Reader& r, LegacyH5* h) {
    uint64_t layers = 0;
    if (!r.Str(&h->model_config) || !r.Str(&h->keras_version) || !r.Str(&h->backend) ||
        !r.U64(&layers) || layers > kMaxNames) {
      return false;
    }
    for (uint64_t i = 0; i < layers; ++i) {
      std::string name;
      uint64_t n = 0;
      LayerWeights lw;
      if (!r.Str(&name) || !r.U64(&n) || n > kMaxNames) return false;
      lw.names.resize(n);
      for (auto& s : lw.names)
        if (!r.Str(&s)) return false;
      lw.paths.resize(n);
      for (auto& s : lw.paths)
        if (!r.Str(&s)) return false;
      if (!r.U64(&n) || n > kMaxNames) return false;
      lw.values.resize(n);
      for (auto& t : lw.values)
        if (!r.Get(&t, max_tensor_bytes)) return false;
      h->layers[name] = std::move(lw);
    }
    return true;
  };
  return RunIsolated<LegacyH5>([&] { return ReadLegacyH5Here(image, max_tensor_bytes); }, put, get,
                               timeout_ms, MaxAnswerBytes(image, max_tensor_bytes));
}

Result<std::map<std::string, std::vector<Tensor>>> ReadKeras3Weights(std::string_view image,
                                                                     size_t max_tensor_bytes,
                                                                     int timeout_ms) {
  using Weights = std::map<std::string, std::vector<Tensor>>;
  auto put = [](Writer& w, const Weights& m) -> Status {
    w.U64(m.size());
    for (const auto& [name, ts] : m) {
      w.Str(name);
      w.U64(ts.size());
      for (const auto& t : ts) TIFFIN_RETURN_IF_ERROR(w.Put(t));
    }
    return Status::Ok();
  };
  auto get = [max_tensor_bytes](Reader& r, Weights* m) {
    uint64_t n = 0;
    if (!r.U64(&n) || n > kMaxGroups) return false;
    for (uint64_t i = 0; i < n; ++i) {
      std::string name;
      uint64_t k = 0;
      if (!r.Str(&name) || !r.U64(&k) || k > kMaxNames) return false;
      std::vector<Tensor> ts(k);
      for (auto& t : ts)
        if (!r.Get(&t, max_tensor_bytes)) return false;
      (*m)[name] = std::move(ts);
    }
    return true;
  };
  return RunIsolated<Weights>([&] { return ReadKeras3WeightsHere(image, max_tensor_bytes); }, put,
                              get, timeout_ms, MaxAnswerBytes(image, max_tensor_bytes));
}

}  // namespace tiffin::keras
