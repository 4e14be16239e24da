#include "ir/graph.h"

namespace tiffin::ir {

std::string_view AttributeKindName(Attribute::Kind kind) {
  switch (kind) {
    case Attribute::Kind::kFloat:
      return "float";
    case Attribute::Kind::kInt:
      return "int";
    case Attribute::Kind::kString:
      return "string";
    case Attribute::Kind::kTensor:
      return "tensor";
    case Attribute::Kind::kGraph:
      return "graph";
    case Attribute::Kind::kFloats:
      return "floats";
    case Attribute::Kind::kInts:
      return "ints";
    case Attribute::Kind::kStrings:
      return "strings";
    case Attribute::Kind::kTensors:
      return "tensors";
  }
  return "unknown";
}

std::string Node::Describe() const {
  std::string op = domain.empty() ? op_type : domain + ":" + op_type;
  return "node '" + name + "' (" + op + ")";
}

namespace {

template <typename T>
Result<T> Get(const Node& node, const std::string& key, Attribute::Kind kind, T default_value,
              T Attribute::*field) {
  auto it = node.attributes.find(key);
  if (it == node.attributes.end()) return default_value;
  if (it->second.kind != kind) {
    return InvalidArgument(node.Describe() + ": attribute '" + key + "' should be " +
                           std::string(AttributeKindName(kind)) + ", got " +
                           std::string(AttributeKindName(it->second.kind)));
  }
  return it->second.*field;
}

}  // namespace

Result<int64_t> Node::GetInt(const std::string& key, int64_t d) const {
  return Get(*this, key, Attribute::Kind::kInt, d, &Attribute::i);
}
Result<float> Node::GetFloat(const std::string& key, float d) const {
  return Get(*this, key, Attribute::Kind::kFloat, d, &Attribute::f);
}
Result<std::string> Node::GetString(const std::string& key, const std::string& d) const {
  return Get(*this, key, Attribute::Kind::kString, d, &Attribute::s);
}
Result<std::vector<int64_t>> Node::GetInts(const std::string& key, std::vector<int64_t> d) const {
  return Get(*this, key, Attribute::Kind::kInts, std::move(d), &Attribute::ints);
}
Result<std::vector<float>> Node::GetFloats(const std::string& key, std::vector<float> d) const {
  return Get(*this, key, Attribute::Kind::kFloats, std::move(d), &Attribute::floats);
}
Result<std::vector<std::string>> Node::GetStrings(const std::string& key,
                                                  std::vector<std::string> d) const {
  return Get(*this, key, Attribute::Kind::kStrings, std::move(d), &Attribute::strings);
}
Result<Tensor> Node::GetTensor(const std::string& key) const {
  if (!HasAttribute(key)) return InvalidArgument(Describe() + ": missing attribute '" + key + "'");
  return Get(*this, key, Attribute::Kind::kTensor, Tensor(), &Attribute::t);
}
Result<std::shared_ptr<const Graph>> Node::GetGraph(const std::string& key) const {
  if (!HasAttribute(key)) return InvalidArgument(Describe() + ": missing attribute '" + key + "'");
  return Get(*this, key, Attribute::Kind::kGraph, std::shared_ptr<const Graph>(), &Attribute::g);
}

int Graph::AddValue(std::string value_name) {
  int id = static_cast<int>(values.size());
  if (!value_name.empty()) by_name_[value_name] = id;
  values.push_back(Value{std::move(value_name), {}});
  return id;
}

void Graph::RenameValue(int id, std::string value_name) {
  Value& v = values[static_cast<size_t>(id)];
  auto it = by_name_.find(v.name);
  if (it != by_name_.end() && it->second == id) by_name_.erase(it);
  if (!value_name.empty()) by_name_[value_name] = id;
  v.name = std::move(value_name);
}

int Graph::FindValue(const std::string& value_name) const {
  auto it = by_name_.find(value_name);
  return it == by_name_.end() ? kNoValue : it->second;
}

}  // namespace tiffin::ir
