// A restricted reader for Python pickle streams (protocols 0-5).
//
// ParsePickle runs the pickle virtual machine over untrusted bytes and builds
// a PickleValue tree. It never imports or calls anything: a GLOBAL becomes a
// plain Global{module, name} value, and the opcodes that would call a class
// or function (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ) become an Object value
// that records the class and its arguments, and only for classes on the
// caller's allow-list. BUILD attaches the state to such an Object. A handful
// of standard-library reducers that only rebuild data (set, frozenset,
// bytearray, _codecs.encode, collections.OrderedDict and the protocol 0/1
// copyreg._reconstructor(cls, object, None) pattern) are evaluated natively.
// Two hooks serve container formats: persistent_load (PyTorch archives) and
// after_build, which may consume raw bytes that follow a BUILD in the stream
// and replace the object just built (joblib's inline numpy arrays).
//
// Names are canonicalised through an alias table before any check
// (numpy.core -> numpy._core, copy_reg -> copyreg, __builtin__ -> builtins,
// numpy.matrixlib.defmatrix -> numpy, sklearn.externals.joblib -> joblib,
// pre-0.22 scikit-learn public modules -> their private modules), so the
// allow-list and the values a caller sees always use the canonical name.
// Dangerous globals (os, posix, nt, subprocess, sys, importlib, dill, eval,
// exec, getattr, __import__, open, compile, ...) are refused as soon as they
// appear, even when a caller put them on the allow-list.
//
// Every size read from the stream is checked against the bytes left, and the
// stack, memo, object count, reference count and nesting depth are bounded
// (PickleOptions); the total of string/bytes data built is capped at four
// times the input size plus 1 MiB.
// Reference cycles are refused. Errors are kDataLoss for malformed or
// truncated streams, kResourceExhausted for limits, kNotSupported for valid
// but unsupported features and kInvalidArgument for refused globals.
#ifndef TIFFIN_IMPORTERS_PICKLE_PICKLE_H_
#define TIFFIN_IMPORTERS_PICKLE_PICKLE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::pickle {

class PickleValue;
// Values are shared: the memo (and DUP) let one value appear in several
// places, exactly as in Python. A parsed tree is acyclic.
using PickleRef = std::shared_ptr<PickleValue>;

// A module-level name such as numpy._core.multiarray._reconstruct.
struct Global {
  std::string module;  // canonical (after aliasing)
  std::string name;
  std::string FullName() const { return module + "." + name; }
  bool operator==(const Global& other) const = default;
};

class PickleValue {
 public:
  enum class Kind {
    kNone,
    kBool,
    kInt,  // int_value, or big_int when is_big_int
    kFloat,
    kBytes,      // bytes and bytearray: str_value holds the raw bytes
    kStr,        // str_value holds UTF-8 (Python 2 str is decoded as latin-1)
    kTuple,      // items
    kList,       // items
    kDict,       // entries, in insertion order (keys are not deduplicated)
    kSet,        // items
    kFrozenSet,  // items
    kGlobal,     // global
    kObject,     // global = class, items = args, entries = kwargs (NEWOBJ_EX) or the
                 // items a dict subclass received through SETITEM(S), state
  };

  Kind kind = Kind::kNone;
  bool bool_value = false;
  int64_t int_value = 0;
  // For kInt values outside int64: little-endian two's-complement bytes as
  // written by LONG1/LONG4 (or converted from a decimal LONG).
  bool is_big_int = false;
  std::string big_int;
  double float_value = 0;
  std::string str_value;
  std::vector<PickleRef> items;
  std::vector<std::pair<PickleRef, PickleRef>> entries;
  Global global;
  // kObject: the state attached by BUILD (null if none; also set on a kDict
  // under PickleOptions::keep_dict_state) and the opcode that created the object ("REDUCE",
  // "NEWOBJ", "NEWOBJ_EX", "INST", "OBJ").
  PickleRef state;
  std::string built_by;

  // Bookkeeping for the parser's depth bound: 1 + deepest child seen.
  uint32_t depth = 1;

  bool is_none() const { return kind == Kind::kNone; }
  bool is_int() const { return kind == Kind::kInt && !is_big_int; }
  bool is_str() const { return kind == Kind::kStr; }
  bool is_bytes() const { return kind == Kind::kBytes; }
  bool is_tuple() const { return kind == Kind::kTuple; }
  bool is_list() const { return kind == Kind::kList; }
  bool is_dict() const { return kind == Kind::kDict; }
  bool is_object() const { return kind == Kind::kObject; }
  bool is_global() const { return kind == Kind::kGlobal; }
  // True for an Object whose class is `full_name` ("module.name", canonical).
  bool IsObjectOf(std::string_view full_name) const;

  // The value for string key `key` of a kDict, or null.
  const PickleValue* Find(std::string_view key) const;

  // "int", "str", "tuple", "object numpy.dtype", ... for error messages.
  std::string TypeName() const;
  // A short Python-like rendering (truncated), for messages and debugging.
  std::string DebugString(size_t max_chars = 200) const;
};

// Called for PERSID (pid is a kStr) and BINPERSID (pid is any value); the
// returned value is pushed in its place. Used by PyTorch archives.
using PersistentLoader = std::function<Result<PickleRef>(const PickleValue& pid)>;

// The unread rest of the stream, as seen by PickleOptions::after_build: the
// position is just past the BUILD opcode. Formats that write raw data between
// pickle opcodes (joblib's NumpyArrayWrapper) consume it here; the machine
// resumes at whatever position the callback leaves.
class PickleInput {
 public:
  // REQUIRES: pos <= data.size().
  PickleInput(std::string_view data, size_t pos) : data_(data), pos_(pos) {}

  size_t offset() const { return pos_; }  // from the start of the stream
  size_t left() const { return data_.size() - pos_; }
  std::string_view rest() const { return data_.substr(pos_); }

  // Consumes `n` bytes and returns them (a view into the stream). Fails with
  // kDataLoss naming `what` and the offset when fewer than `n` are left.
  Result<std::string_view> Read(uint64_t n, std::string_view what);
  // Consumes `n` bytes, with the same check.
  Status Skip(uint64_t n, std::string_view what);

 private:
  std::string_view data_;
  size_t pos_;
};

// Called after every BUILD, with the object the state was just attached to
// (`built` is always a kObject) and the rest of the stream. Returns null to
// leave the object as it is, or a replacement value: the object is then
// overwritten in place by that value (moved out of it when the callback holds
// the only reference), so the replacement takes its place on the stack, in the
// memo and in any container that already holds it (joblib swaps each array
// wrapper for the array). The replacement must not refer to `built` itself
// (that would be a cycle, refused at the end of the parse). Values the
// callback makes do not count towards max_objects: it bounds them itself. An
// error stops the parse and is returned with the offset added.
using AfterBuild = std::function<Result<PickleRef>(const PickleValue& built, PickleInput* input)>;

struct PickleOptions {
  // Classes and functions that REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ may turn into
  // Objects: "module.name" (either alias spelling), or "module.*" for every
  // name in a module and its submodules. Dangerous names are refused anyway.
  std::vector<std::string> allowed_globals;
  PersistentLoader persistent_load;  // empty: PERSID/BINPERSID are refused
  AfterBuild after_build;            // empty: BUILD only attaches the state
  // BUILD with a dict state on a dict (an OrderedDict subclass instance's
  // attributes, e.g. a PyTorch state_dict's `_metadata`) attaches the state
  // to the dict's `state` instead of being refused.
  bool keep_dict_state = false;

  size_t max_bytes = size_t{1} << 32;       // input size
  size_t max_stack = size_t{1} << 20;       // values on the stack, all marks together
  size_t max_memo = size_t{1} << 20;        // memo entries
  size_t max_objects = size_t{1} << 24;     // values created
  size_t max_references = size_t{1} << 25;  // child references stored in containers and objects
  uint32_t max_depth = 1000;                // container nesting and MARK nesting
  size_t max_long_digits = 4300;            // decimal digits of a text LONG (as CPython)
};

// Runs the pickle machine over `bytes` up to the first STOP and returns the
// value on top of the stack. Bytes after STOP are ignored.
Result<PickleValue> ParsePickle(std::string_view bytes, const PickleOptions& options);

// ParsePickle, plus what a reader of containers needs to know.
struct ParsedPickle {
  PickleValue value;
  // The PROTO argument (2-5); for streams without PROTO, 1 if a binary
  // (protocol 1) opcode occurs and 0 otherwise.
  int protocol = 0;
  // Offset just past the STOP opcode: where a following stream starts.
  size_t end_offset = 0;
};
Result<ParsedPickle> ParsePickleStream(std::string_view bytes, const PickleOptions& options);

// Walks the opcodes of `bytes` (up to STOP) without building anything and
// returns every global named by GLOBAL, INST and STACK_GLOBAL, canonicalised,
// in stream order (duplicates kept). STACK_GLOBAL names are recovered by
// tracking recently pushed strings (also through the memo), which covers
// what pickle writes; an unresolvable one is reported as {"?", "?"}.
// Nothing is refused here: this is an inspection tool. Fails only on a
// malformed stream, with the offset.
Result<std::vector<Global>> ListGlobals(std::string_view bytes);

// The canonical spelling of a dotted module (or module.name) path.
std::string CanonicalModule(std::string_view module);

// Non-empty (the reason) when module.name must never be resolved.
std::string DangerousGlobalReason(const Global& global);

}  // namespace tiffin::pickle

#endif  // TIFFIN_IMPORTERS_PICKLE_PICKLE_H_
