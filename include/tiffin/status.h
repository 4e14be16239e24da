// Status and Result<T>: tiffin's one error currency.
//
// Every fallible function in tiffin returns a Status or a Result<T>; no
// exception crosses a module boundary. A message names the thing that was
// wrong, the value seen and, where one exists, the fix, in lowercase, as
// "what: detail (context)". Example:
//   input 'x': expected dtype float32, got int64 (cast the input or re-export)
#ifndef TIFFIN_STATUS_H_
#define TIFFIN_STATUS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tiffin {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input (a request, a tensor) is wrong
  kNotFound,            // a named file, model, input or value does not exist
  kNotSupported,        // understood, but tiffin does not implement it
  kDataLoss,            // a file is truncated or corrupt
  kResourceExhausted,   // a size limit would be exceeded
  kFailedPrecondition,  // the object is not in a state that allows the call
  kInternal,            // a tiffin bug
};

// Returns "invalid argument", "not found", ...
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "<code name>: <message>", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status InvalidArgument(std::string message);
Status NotFound(std::string message);
Status NotSupported(std::string message);
Status DataLoss(std::string message);
Status ResourceExhausted(std::string message);
Status FailedPrecondition(std::string message);
Status Internal(std::string message);

// Holds either a value or a non-OK Status. Constructing a Result from an OK
// Status is a programming error and yields an internal error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Internal("Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace tiffin

#define TIFFIN_CONCAT_INNER_(a, b) a##b
#define TIFFIN_CONCAT_(a, b) TIFFIN_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define TIFFIN_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::tiffin::Status tiffin_status_ = (expr);        \
    if (!tiffin_status_.ok()) return tiffin_status_; \
  } while (0)

// `lhs` = value of `rexpr` (a Result<T>), or returns its Status.
#define TIFFIN_ASSIGN_OR_RETURN(lhs, rexpr) \
  TIFFIN_ASSIGN_OR_RETURN_IMPL_(TIFFIN_CONCAT_(tiffin_result_, __LINE__), lhs, rexpr)
#define TIFFIN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()

#endif  // TIFFIN_STATUS_H_
