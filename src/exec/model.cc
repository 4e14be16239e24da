#include <map>
#include <new>
#include <stdexcept>

#include "exec/executor.h"

namespace tiffin {

const char* Version() { return "0.1.0"; }

std::string DimsToString(const std::vector<Dim>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    if (dims[i].fixed()) {
      s += std::to_string(dims[i].value);
    } else if (!dims[i].symbol.empty()) {
      s += dims[i].symbol;
    } else {
      s += '?';
    }
  }
  return s + "]";
}

namespace exec {
namespace {

std::string Describe(const TensorInfo& info) {
  std::string s = "'" + info.name + "' (" + std::string(DTypeName(info.dtype));
  if (info.has_shape) s += " " + DimsToString(info.shape);
  return s + ")";
}

class ModelImpl final : public Model {
 public:
  ModelImpl(std::shared_ptr<const CompiledGraph> graph, std::vector<TensorInfo> inputs,
            std::vector<TensorInfo> outputs, ModelInfo info)
      : graph_(std::move(graph)),
        inputs_(std::move(inputs)),
        outputs_(std::move(outputs)),
        info_(std::move(info)) {}

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  const ModelInfo& info() const override { return info_; }

  Result<std::vector<Tensor>> Run(const std::vector<NamedTensor>& given) const override {
    std::vector<Tensor> ordered(inputs_.size());
    std::vector<bool> seen(inputs_.size(), false);
    for (const auto& nt : given) {
      size_t k = 0;
      while (k < inputs_.size() && inputs_[k].name != nt.name) ++k;
      if (k == inputs_.size()) {
        std::string names;
        for (const auto& in : inputs_) names += (names.empty() ? "" : ", ") + Describe(in);
        return InvalidArgument("input '" + nt.name +
                               "' is not an input of this model; its inputs are " + names);
      }
      if (seen[k]) return InvalidArgument("input '" + nt.name + "' is given twice");
      seen[k] = true;
      ordered[k] = nt.tensor;
    }
    for (size_t k = 0; k < inputs_.size(); ++k) {
      if (!seen[k]) return InvalidArgument("missing input " + Describe(inputs_[k]));
    }
    TIFFIN_RETURN_IF_ERROR(CheckInputs(ordered));
    // Kernels report errors as Status; an exception here can only be an
    // allocation failure (or a bug), and must not reach the caller.
    try {
      return graph_->Run(ordered, nullptr, /*use_plan=*/true);
    } catch (const std::bad_alloc&) {
      return ResourceExhausted(
          "out of memory while running the model (reduce the batch size or "
          "lower LoadOptions::max_tensor_bytes)");
    } catch (const std::exception& e) {
      return Internal(std::string("unexpected exception while running the model: ") + e.what());
    }
  }

 private:
  Status CheckInputs(const std::vector<Tensor>& ordered) const {
    std::map<std::string, std::pair<int64_t, std::string>> symbols;  // symbol -> (value, input)
    for (size_t k = 0; k < inputs_.size(); ++k) {
      const TensorInfo& info = inputs_[k];
      const Tensor& t = ordered[k];
      if (!t.defined()) return InvalidArgument("input '" + info.name + "' has no data");
      if (info.dtype != DType::kUndefined && t.dtype() != info.dtype) {
        return InvalidArgument("input '" + info.name + "': expected dtype " +
                               std::string(DTypeName(info.dtype)) + ", got " +
                               std::string(DTypeName(t.dtype())) + " (convert the data to " +
                               std::string(DTypeName(info.dtype)) + ")");
      }
      if (!info.has_shape) continue;
      if (t.rank() != static_cast<int64_t>(info.shape.size())) {
        return InvalidArgument("input '" + info.name + "': expected rank " +
                               std::to_string(info.shape.size()) + " " + DimsToString(info.shape) +
                               ", got shape " + ShapeToString(t.shape()));
      }
      for (size_t d = 0; d < info.shape.size(); ++d) {
        const Dim& dim = info.shape[d];
        const int64_t got = t.shape()[d];
        if (dim.fixed() && dim.value != got) {
          return InvalidArgument("input '" + info.name + "': dim " + std::to_string(d) +
                                 " should be " + std::to_string(dim.value) + ", got " +
                                 std::to_string(got) + " (shape " + ShapeToString(t.shape()) +
                                 ", expected " + DimsToString(info.shape) + ")");
        }
        if (!dim.fixed() && !dim.symbol.empty()) {
          auto [it, inserted] = symbols.emplace(dim.symbol, std::make_pair(got, info.name));
          if (!inserted && it->second.first != got) {
            return InvalidArgument("input '" + info.name + "': dim " + std::to_string(d) + " is '" +
                                   dim.symbol + "' = " + std::to_string(got) + ", but '" +
                                   dim.symbol + "' = " + std::to_string(it->second.first) +
                                   " in input '" + it->second.second + "'");
          }
        }
      }
    }
    return Status::Ok();
  }

  std::shared_ptr<const CompiledGraph> graph_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  ModelInfo info_;
};

}  // namespace

Result<std::shared_ptr<const Model>> MakeModel(std::shared_ptr<const CompiledGraph> graph,
                                               std::vector<TensorInfo> inputs,
                                               std::vector<TensorInfo> outputs, ModelInfo info) {
  return std::shared_ptr<const Model>(
      new ModelImpl(std::move(graph), std::move(inputs), std::move(outputs), std::move(info)));
}

}  // namespace exec
}  // namespace tiffin
