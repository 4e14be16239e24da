// Writer tests. Round trip: every ONNX model under tests/golden/{torch,ml}
// and examples/ is parsed into the IR, written back, and the written model
// must give bitwise the outputs of the original in tiffin, pass Debian's
// ONNX checker (python3-onnx) and give bitwise ONNX Runtime's outputs for
// the original (tools/ort/run_model.js). Hand-built graphs cover what the
// fixtures lack: every attribute kind, every initializer dtype, If
// subgraphs, symbolic and unknown dims, and each error the writer reports.
// The python and ONNX Runtime checks skip when their tool is missing.
#include "importers/onnx/onnx_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "importers/onnx/onnx_loader.h"
#include "importers/onnx/tensor_proto.h"
#include "io/tensor_io.h"
#include "tiffin/model.h"

namespace tiffin::onnx_import {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path SourceDir() {
  const char* env = std::getenv("TIFFIN_SOURCE_DIR");
  return env ? fs::path(env) : fs::path(TIFFIN_SOURCE_DIR_DEFAULT);
}

// A folder for one test's files, removed when the test ends.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    path_ = fs::path(::testing::TempDir()) /
            ("onnx_writer_test_" + std::to_string(::getpid()) + "_" + tag);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
  auto bytes = ReadFileBytes(path.string(), size_t{1} << 30);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string();
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `command` in a shell; returns its exit code and, in *output, what it
// printed (stdout and stderr).
int Shell(const std::string& command, const fs::path& log, std::string* output) {
  int rc = std::system((command + " > " + Quote(log.string()) + " 2>&1").c_str());
  if (output != nullptr) *output = ReadFile(log);
  return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void ExpectSameTensor(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  if (want.dtype() == DType::kString) {
    for (int64_t i = 0; i < want.size(); ++i)
      EXPECT_EQ(got.data<std::string>()[i], want.data<std::string>()[i])
          << what << " [" << i << "]";
  } else if (want.nbytes() > 0) {
    EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()), 0)
        << what << ": the bytes differ";
  }
}

void ExpectSameInfo(const TensorInfo& got, const TensorInfo& want, const std::string& what) {
  EXPECT_EQ(got.name, want.name) << what;
  EXPECT_EQ(got.dtype, want.dtype) << what << " '" << want.name << "'";
  EXPECT_EQ(got.has_shape, want.has_shape) << what << " '" << want.name << "'";
  EXPECT_EQ(DimsToString(got.shape), DimsToString(want.shape)) << what << " '" << want.name << "'";
}

// ----------------------------------------------------------------- fixtures

struct Case {
  std::string name;  // test name: torch_cnn, ml_scaler, example_iris_mlp
  fs::path model;
  fs::path input;  // input_0.npy, or an input.json in the {"name": list} form
};

std::vector<Case> RoundTripCases() {
  std::vector<Case> cases;
  for (const char* family : {"torch", "ml"}) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(SourceDir() / "tests/golden" / family))
      if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      cases.push_back(
          {std::string(family) + "_" + d.filename().string(), d / "model.onnx", d / "input_0.npy"});
    }
  }
  const fs::path iris = SourceDir() / "examples/iris_mlp";
  cases.push_back({"example_iris_mlp", iris / "model.onnx", iris / "input.json"});
  return cases;
}

Result<std::vector<NamedTensor>> Feeds(const Case& c, const Model& model) {
  TIFFIN_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(c.input.string(), size_t{1} << 30));
  if (c.input.extension() == ".json") return io::ParseJsonInputs(bytes, model.inputs());
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, io::ParseNpy(bytes));
  return std::vector<NamedTensor>{{model.inputs()[0].name, t}};
}

// The fixture parsed into the IR and written back with default options.
Result<std::string> Rewrite(const Case& c) {
  TIFFIN_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(c.model.string(), size_t{1} << 30));
  TIFFIN_ASSIGN_OR_RETURN(ParsedOnnx parsed, ParseOnnxGraph(bytes, c.model.parent_path().string()));
  return SerializeOnnx(*parsed.graph, OnnxWriteOptions{});
}

std::string CaseName(const ::testing::TestParamInfo<Case>& p) { return p.param.name; }
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Sorts every graph's nodes by name (unique in what the writer emits),
// subgraphs included. The loader's topological sort may reorder nodes that
// were already in order, so only the set of nodes is stable across a
// parse and write.
void SortNodesByName(onnx::GraphProto* g) {
  std::sort(g->mutable_node()->begin(), g->mutable_node()->end(),
            [](const onnx::NodeProto& a, const onnx::NodeProto& b) { return a.name() < b.name(); });
  for (auto& node : *g->mutable_node())
    for (auto& attr : *node.mutable_attribute())
      if (attr.has_g()) SortNodesByName(attr.mutable_g());
}

std::string Canonical(const std::string& bytes) {
  onnx::ModelProto mp;
  EXPECT_TRUE(mp.ParseFromString(bytes));
  SortNodesByName(mp.mutable_graph());
  return mp.SerializeAsString();
}

class RoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTrip, WrittenModelGivesBitwiseTheSameOutputs) {
  const Case& c = GetParam();
  auto original = LoadOnnxFile(c.model.string());
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  auto written = Rewrite(c);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  auto copy = LoadOnnxBytes(*written, "");
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();

  const Model& a = **original;
  const Model& b = **copy;
  ASSERT_EQ(b.inputs().size(), a.inputs().size());
  for (size_t i = 0; i < a.inputs().size(); ++i)
    ExpectSameInfo(b.inputs()[i], a.inputs()[i], "input");
  ASSERT_EQ(b.outputs().size(), a.outputs().size());
  for (size_t i = 0; i < a.outputs().size(); ++i)
    ExpectSameInfo(b.outputs()[i], a.outputs()[i], "output");
  EXPECT_EQ(b.info().op_counts, a.info().op_counts);
  EXPECT_EQ(b.info().parameter_count, a.info().parameter_count);
  EXPECT_EQ(b.info().parameter_bytes, a.info().parameter_bytes);
  EXPECT_EQ(b.info().producer_name, "tiffin");
  // Derived opsets: every domain a node uses, at the original's version.
  for (const auto& [op, count] : a.info().op_counts) {
    size_t colon = op.find(':');
    std::string domain = colon == std::string::npos ? "ai.onnx" : op.substr(0, colon);
    EXPECT_EQ(b.info().opsets.at(domain), a.info().opsets.at(domain)) << domain;
  }

  auto feeds = Feeds(c, a);
  ASSERT_TRUE(feeds.ok()) << feeds.status().ToString();
  auto want = a.Run(*feeds);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  auto got = b.Run(*feeds);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), want->size());
  for (size_t i = 0; i < want->size(); ++i)
    ExpectSameTensor((*got)[i], (*want)[i], c.name + " output " + std::to_string(i));
}

TEST_P(RoundTrip, WritingIsAFixedPoint) {
  // Parse(write(g)) written again gives the same model, up to node order:
  // nothing is lost or renamed on the second pass.
  auto first = Rewrite(GetParam());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto parsed = ParseOnnxGraph(*first, "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto second = SerializeOnnx(*parsed->graph, OnnxWriteOptions{});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(Canonical(*first) == Canonical(*second)) << "the second write differs from the first";
}

INSTANTIATE_TEST_SUITE_P(Golden, RoundTrip, ::testing::ValuesIn(RoundTripCases()), CaseName);

// ------------------------------------------------------- hand-built graphs

Dim Fixed(int64_t v) { return Dim{v, ""}; }
Dim Symbol(const std::string& s) { return Dim{-1, s}; }
Dim Unknown() { return Dim{}; }

// Builds an ir::Graph the way an importer does: values by name, nodes in
// order.
class Builder {
 public:
  explicit Builder(const std::string& name) : g_(std::make_shared<ir::Graph>()) { g_->name = name; }

  int Value(const std::string& name) {
    int id = g_->FindValue(name);
    return id != ir::kNoValue ? id : g_->AddValue(name);
  }
  void SetInfo(const std::string& name, DType dtype, std::vector<Dim> dims, bool has_shape) {
    TensorInfo& info = g_->values[static_cast<size_t>(Value(name))].info;
    info.name = name;
    info.dtype = dtype;
    info.has_shape = has_shape;
    info.shape = std::move(dims);
  }
  Builder& Input(const std::string& name, DType dtype, std::vector<Dim> dims,
                 bool has_shape = true) {
    SetInfo(name, dtype, std::move(dims), has_shape);
    g_->inputs.push_back(Value(name));
    return *this;
  }
  Builder& Output(const std::string& name, DType dtype = DType::kUndefined,
                  std::vector<Dim> dims = {}, bool has_shape = false) {
    SetInfo(name, dtype, std::move(dims), has_shape);
    g_->outputs.push_back(Value(name));
    return *this;
  }
  Builder& Constant(const std::string& name, Tensor t) {
    g_->constants[Value(name)] = std::move(t);
    return *this;
  }
  Builder& Outer(const std::string& name) {
    g_->outer_refs.push_back(Value(name));
    return *this;
  }
  // "" in `inputs` or `outputs` is an omitted optional.
  ir::Node& Node(const std::string& op, const std::vector<std::string>& inputs,
                 const std::vector<std::string>& outputs, int64_t opset = 13,
                 const std::string& domain = "") {
    ir::Node n;
    n.op_type = op;
    n.domain = domain;
    n.opset = opset;
    for (const auto& in : inputs) n.inputs.push_back(in.empty() ? ir::kNoValue : Value(in));
    for (const auto& out : outputs) n.outputs.push_back(out.empty() ? ir::kNoValue : Value(out));
    g_->nodes.push_back(std::move(n));
    return g_->nodes.back();
  }
  std::shared_ptr<ir::Graph> graph() const { return g_; }
  ir::Graph& g() { return *g_; }

 private:
  std::shared_ptr<ir::Graph> g_;
};

ir::Attribute GraphAttr(std::shared_ptr<const ir::Graph> g) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kGraph;
  a.g = std::move(g);
  return a;
}

ir::Attribute IntAttr(int64_t v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kInt;
  a.i = v;
  return a;
}

Tensor Half(const std::vector<float>& values) {
  Tensor t(DType::kFloat16, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<Float16>()[i] = Float16(values[i]);
  return t;
}

// y = If(cond, x + h, x - h) with h = Cast(half), a float16 initializer;
// the branches read x and h from the main graph. x is [batch, 3].
std::shared_ptr<ir::Graph> IfModel() {
  Builder then_b("");  // unnamed: the writer names it after the node
  then_b.Outer("x").Outer("h");
  then_b.Node("Add", {"x", "h"}, {"y_then"});
  then_b.Output("y_then", DType::kFloat32);
  Builder else_b("else_body");
  else_b.Outer("x").Outer("h");
  else_b.Node("Sub", {"x", "h"}, {"y_else"});
  else_b.Output("y_else", DType::kFloat32);

  Builder b("if_model");
  b.Input("x", DType::kFloat32, {Symbol("batch"), Fixed(3)});
  b.Input("cond", DType::kBool, {});  // a scalar: a shape of rank 0
  b.Constant("half", Half({1.5f, -2.0f, 0.25f}));
  b.Node("Cast", {"half"}, {"h"}).attributes["to"] = IntAttr(1);
  ir::Node& iff = b.Node("If", {"cond"}, {"y"});
  iff.attributes["then_branch"] = GraphAttr(then_b.graph());
  iff.attributes["else_branch"] = GraphAttr(else_b.graph());
  b.Output("y", DType::kFloat32, {Symbol("batch"), Fixed(3)}, true);
  return b.graph();
}

// labels = Identity(classes), a string initializer; x2 = Identity(x) with x
// of shape [?, 4].
std::shared_ptr<ir::Graph> StringModel() {
  Builder b("strings");
  b.Input("x", DType::kFloat32, {Unknown(), Fixed(4)});
  b.Constant("classes", Tensor::FromVector<std::string>({"setosa", "versicolor", "virginica"}));
  b.Node("Identity", {"classes"}, {"labels"});
  b.Node("Identity", {"x"}, {"x2"});
  b.Output("labels", DType::kString, {Fixed(3)}, true);
  b.Output("x2", DType::kFloat32, {Unknown(), Fixed(4)}, true);
  return b.graph();
}

Tensor RunOne(const std::string& bytes, const std::vector<NamedTensor>& feeds, size_t output) {
  auto model = LoadOnnxBytes(bytes, "");
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return Tensor();
  auto out = (*model)->Run(feeds);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() && output < out->size() ? (*out)[output] : Tensor();
}

TEST(OnnxWriter, IfWithOuterReferencesRuns) {
  auto bytes = SerializeOnnx(*IfModel(), OnnxWriteOptions{});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Tensor x = Tensor::FromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = RunOne(*bytes, {{"x", x}, {"cond", Tensor::Scalar<bool>(true)}}, 0);
  ExpectSameTensor(y, Tensor::FromVector<float>({2.5f, 0, 3.25f, 5.5f, 3, 6.25f}, {2, 3}), "then");
  y = RunOne(*bytes, {{"x", x}, {"cond", Tensor::Scalar<bool>(false)}}, 0);
  ExpectSameTensor(y, Tensor::FromVector<float>({-0.5f, 4, 2.75f, 2.5f, 7, 5.75f}, {2, 3}), "else");

  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(*bytes));
  EXPECT_EQ(mp.ir_version(), 8);
  ASSERT_EQ(mp.opset_import_size(), 1);
  EXPECT_EQ(mp.opset_import(0).domain(), "");
  EXPECT_EQ(mp.opset_import(0).version(), 13);
  const auto& g = mp.graph();
  EXPECT_EQ(g.name(), "if_model");
  ASSERT_EQ(g.node_size(), 2);
  EXPECT_EQ(g.node(0).name(), "Cast_0");
  EXPECT_EQ(g.node(1).name(), "If_1");
  const auto& then_g = g.node(1).attribute(1).g();  // attributes in name order
  EXPECT_EQ(g.node(1).attribute(1).name(), "then_branch");
  EXPECT_EQ(then_g.name(), "If_1_then_branch");
  EXPECT_EQ(then_g.input_size(), 0);  // outer references are just names
  EXPECT_EQ(then_g.node(0).input(0), "x");
  EXPECT_EQ(then_g.node(0).input(1), "h");
  EXPECT_EQ(g.node(1).attribute(0).g().name(), "else_body");
  const auto& x_type = g.input(0).type().tensor_type();
  EXPECT_EQ(x_type.elem_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(x_type.shape().dim_size(), 2);
  EXPECT_EQ(x_type.shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(x_type.shape().dim(1).dim_value(), 3);
  EXPECT_TRUE(g.input(1).type().tensor_type().has_shape());  // rank 0, not unknown
  EXPECT_EQ(g.input(1).type().tensor_type().shape().dim_size(), 0);
  ASSERT_EQ(g.initializer_size(), 1);
  EXPECT_EQ(g.initializer(0).data_type(), onnx::TensorProto::FLOAT16);
  EXPECT_EQ(g.initializer(0).raw_data().size(), 6u);
}

TEST(OnnxWriter, StringInitializerAndUnknownDims) {
  auto bytes = SerializeOnnx(*StringModel(), OnnxWriteOptions{});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Tensor labels = RunOne(*bytes, {{"x", Tensor(DType::kFloat32, {2, 4})}}, 0);
  ExpectSameTensor(labels, Tensor::FromVector<std::string>({"setosa", "versicolor", "virginica"}),
                   "labels");
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(*bytes));
  const auto& init = mp.graph().initializer(0);
  EXPECT_EQ(init.data_type(), onnx::TensorProto::STRING);
  EXPECT_EQ(init.string_data_size(), 3);
  EXPECT_FALSE(init.has_raw_data());
  const auto& dim0 = mp.graph().input(0).type().tensor_type().shape().dim(0);
  EXPECT_FALSE(dim0.has_dim_value());
  EXPECT_FALSE(dim0.has_dim_param());
}

// One initializer of each dtype tiffin holds, with distinctive values.
std::vector<std::pair<std::string, Tensor>> EveryDType() {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("c_float32", Tensor::FromVector<float>({1.5f, -0.0f, 3e38f}));
  out.emplace_back("c_float64", Tensor::FromVector<double>({1e-300, -2.5}));
  out.emplace_back("c_float16", Half({65504.0f, -1.0f}));
  out.emplace_back("c_int8", Tensor::FromVector<int8_t>({-128, 127}));
  out.emplace_back("c_int16", Tensor::FromVector<int16_t>({-32768, 7}));
  out.emplace_back("c_int32", Tensor::FromVector<int32_t>({-5, 1 << 30}, {2, 1}));
  out.emplace_back("c_int64", Tensor::FromVector<int64_t>({int64_t{1} << 62, -1}));
  out.emplace_back("c_uint8", Tensor::FromVector<uint8_t>({0, 255}));
  out.emplace_back("c_uint16", Tensor::FromVector<uint16_t>({65535}));
  out.emplace_back("c_uint32", Tensor::FromVector<uint32_t>({4000000000u}));
  out.emplace_back("c_uint64", Tensor::FromVector<uint64_t>({~uint64_t{0}}));
  out.emplace_back("c_bool", Tensor::FromVector<bool>({true, false, true}));
  out.emplace_back("c_string", Tensor::FromVector<std::string>({"", "é", std::string("a\0b", 3)}));
  out.emplace_back("c_scalar", Tensor::Scalar<float>(2.0f));
  out.emplace_back("c_empty", Tensor(DType::kFloat32, {0, 3}));
  return out;
}

void ExpectSameAttribute(const ir::Attribute& got, const ir::Attribute& want,
                         const std::string& key) {
  using Kind = ir::Attribute::Kind;
  ASSERT_EQ(got.kind, want.kind) << key;
  switch (want.kind) {
    case Kind::kFloat:
      EXPECT_EQ(got.f, want.f) << key;
      break;
    case Kind::kInt:
      EXPECT_EQ(got.i, want.i) << key;
      break;
    case Kind::kString:
      EXPECT_EQ(got.s, want.s) << key;
      break;
    case Kind::kFloats:
      EXPECT_EQ(got.floats, want.floats) << key;
      break;
    case Kind::kInts:
      EXPECT_EQ(got.ints, want.ints) << key;
      break;
    case Kind::kStrings:
      EXPECT_EQ(got.strings, want.strings) << key;
      break;
    case Kind::kTensor:
      ExpectSameTensor(got.t, want.t, key);
      break;
    case Kind::kTensors:
      ASSERT_EQ(got.tensors.size(), want.tensors.size()) << key;
      for (size_t i = 0; i < want.tensors.size(); ++i)
        ExpectSameTensor(got.tensors[i], want.tensors[i], key + "[" + std::to_string(i) + "]");
      break;
    case Kind::kGraph:
      ASSERT_TRUE(got.g != nullptr) << key;
      ASSERT_EQ(got.g->nodes.size(), want.g->nodes.size()) << key;
      for (size_t i = 0; i < want.g->nodes.size(); ++i)
        EXPECT_EQ(got.g->nodes[i].op_type, want.g->nodes[i].op_type) << key;
      break;
  }
}

TEST(OnnxWriter, EveryAttributeKindAndDTypeSurvivesTheLoader) {
  using Kind = ir::Attribute::Kind;
  Builder body("");
  body.Outer("x");
  body.Node("Identity", {"x"}, {"inner"}, 13);
  body.Output("inner");

  Builder b("everything");
  b.Input("x", DType::kFloat32, {Symbol("n"), Unknown(), Fixed(0), Fixed(7)});
  b.Input("any_rank", DType::kInt64, {}, /*has_shape=*/false);
  std::vector<std::string> ins = {"x", "", "any_rank"};
  for (auto& [name, t] : EveryDType()) {
    b.Constant(name, t);
    ins.push_back(name);
  }
  ir::Node& node = b.Node("Everything", ins, {"out", "", "out2"}, 1, "tiffin.test");
  std::map<std::string, ir::Attribute>& attrs = node.attributes;
  attrs["f"].kind = Kind::kFloat;
  attrs["f"].f = -0.125f;
  attrs["i"] = IntAttr(-(int64_t{1} << 40));
  attrs["s"].kind = Kind::kString;
  attrs["s"].s = std::string("bytes\0here", 10);
  attrs["t"].kind = Kind::kTensor;
  attrs["t"].t = Tensor::FromVector<int64_t>({1, 2, 3, 4}, {2, 2});
  attrs["g"] = GraphAttr(body.graph());
  attrs["floats"].kind = Kind::kFloats;
  attrs["floats"].floats = {1, -2.5f};
  attrs["ints"].kind = Kind::kInts;
  attrs["ints"].ints = {};  // empty lists keep their kind
  attrs["strings"].kind = Kind::kStrings;
  attrs["strings"].strings = {"a", ""};
  attrs["tensors"].kind = Kind::kTensors;
  attrs["tensors"].tensors = {Half({0.5f}), Tensor::FromVector<std::string>({"z"}),
                              Tensor(DType::kFloat32, {0})};
  b.Output("out");
  b.Output("out2", DType::kFloat64, {Symbol("n"), Unknown()}, true);

  auto bytes = SerializeOnnx(*b.graph(), OnnxWriteOptions{});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto parsed = ParseOnnxGraph(*bytes, "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const ir::Graph& g = *parsed->graph;
  EXPECT_EQ(parsed->opsets.at("tiffin.test"), 1);
  EXPECT_EQ(parsed->opsets.at(""), 13);  // from the subgraph's Identity
  EXPECT_EQ(parsed->info.ir_version, 8);

  const ir::Graph& want = *b.graph();
  ASSERT_EQ(g.inputs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ExpectSameInfo(g.values[static_cast<size_t>(g.inputs[i])].info,
                   want.values[static_cast<size_t>(want.inputs[i])].info, "input");
  }
  ASSERT_EQ(g.outputs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ExpectSameInfo(g.values[static_cast<size_t>(g.outputs[i])].info,
                   want.values[static_cast<size_t>(want.outputs[i])].info, "output");
  }
  for (const auto& [name, t] : EveryDType()) {
    int id = g.FindValue(name);
    ASSERT_NE(id, ir::kNoValue) << name;
    ASSERT_TRUE(g.constants.count(id)) << name;
    ExpectSameTensor(g.constants.at(id), t, name);
  }
  ASSERT_EQ(g.nodes.size(), 1u);
  const ir::Node& n = g.nodes[0];
  EXPECT_EQ(n.name, "Everything_0");
  EXPECT_EQ(n.domain, "tiffin.test");
  ASSERT_EQ(n.inputs.size(), ins.size());
  EXPECT_EQ(n.inputs[1], ir::kNoValue);
  ASSERT_EQ(n.outputs.size(), 3u);
  EXPECT_EQ(n.outputs[1], ir::kNoValue);
  ASSERT_EQ(n.attributes.size(), attrs.size());
  for (const auto& [key, attr] : attrs) {
    ASSERT_TRUE(n.attributes.count(key)) << key;
    ExpectSameAttribute(n.attributes.at(key), attr, key);
  }
  EXPECT_EQ(n.attributes.at("g").g->name, "Everything_0_g");
  EXPECT_EQ(n.attributes.at("g").g->nodes[0].name, "Identity_0");
}

TEST(OnnxWriter, GeneratedNamesAvoidTakenOnes) {
  // The second node and value 1 have no names; the names the writer would
  // generate for them are taken, by the first node and value 2.
  Builder b("names");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  const int unnamed = b.g().AddValue("");
  ASSERT_EQ(unnamed, 1);
  b.Node("Relu", {"x"}, {"tiffin_value_1"}).name = "Relu_1";
  b.Node("Relu", {"tiffin_value_1"}, {}).outputs.push_back(unnamed);
  b.g().outputs.push_back(unnamed);
  auto bytes = SerializeOnnx(*b.graph(), OnnxWriteOptions{});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(*bytes));
  EXPECT_EQ(mp.graph().node(1).name(), "Relu_1_1");
  EXPECT_EQ(mp.graph().node(1).output(0), "tiffin_value_1_1");
  EXPECT_EQ(mp.graph().output(0).name(), "tiffin_value_1_1");
  Tensor y = RunOne(*bytes, {{"x", Tensor::FromVector<float>({-3})}}, 0);
  ExpectSameTensor(y, Tensor::FromVector<float>({0}), "y");
}

TEST(OnnxWriter, OptionsReachTheModel) {
  OnnxWriteOptions options;
  options.producer_name = "tiffin-sklearn";
  options.producer_version = "0.1.0";
  options.doc_string = "a doc";
  options.metadata = {{"source", "model.pkl"}, {"sklearn", "1.5"}};
  options.graph_name = "renamed";
  options.opsets = {{"ai.onnx", 15}, {"ai.onnx.ml", 3}};  // "ai.onnx" is written as ""
  options.ir_version = 7;
  auto bytes = SerializeOnnx(*StringModel(), options);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto parsed = ParseOnnxGraph(*bytes, "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const ModelInfo& info = parsed->info;
  EXPECT_EQ(info.producer_name, "tiffin-sklearn");
  EXPECT_EQ(info.producer_version, "0.1.0");
  EXPECT_EQ(info.doc_string, "a doc");
  EXPECT_EQ(info.metadata, options.metadata);
  EXPECT_EQ(info.ir_version, 7);
  EXPECT_EQ(info.opsets, (std::map<std::string, int64_t>{{"ai.onnx", 15}, {"ai.onnx.ml", 3}}));
  EXPECT_EQ(parsed->graph->name, "renamed");
}

int64_t AutoIrVersion(std::map<std::string, int64_t> node_opsets) {
  Builder b("ir");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  std::string last = "x";
  for (const auto& [domain, version] : node_opsets) {
    std::string out = last + "_";
    b.Node("Op", {last}, {out}, version, domain);
    last = out;
  }
  b.Output(last);
  auto bytes = SerializeOnnx(*b.graph(), OnnxWriteOptions{});
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  onnx::ModelProto mp;
  EXPECT_TRUE(bytes.ok() && mp.ParseFromString(*bytes));
  return mp.ir_version();
}

TEST(OnnxWriter, IrVersionFollowsTheOpsets) {
  EXPECT_EQ(AutoIrVersion({{"", 7}}), 8);
  EXPECT_EQ(AutoIrVersion({{"", 18}}), 8);
  EXPECT_EQ(AutoIrVersion({{"", 19}}), 9);
  EXPECT_EQ(AutoIrVersion({{"", 20}}), 9);
  EXPECT_EQ(AutoIrVersion({{"", 21}}), 10);
  EXPECT_EQ(AutoIrVersion({{"", 22}}), 10);
  EXPECT_EQ(AutoIrVersion({{"", 23}}), 11);
  EXPECT_EQ(AutoIrVersion({{"ai.onnx.ml", 3}}), 8);
  EXPECT_EQ(AutoIrVersion({{"", 13}, {"ai.onnx.ml", 4}}), 9);
  EXPECT_EQ(AutoIrVersion({{"", 13}, {"ai.onnx.ml", 5}}), 10);
  EXPECT_EQ(AutoIrVersion({{"", 21}, {"ai.onnx.ml", 4}}), 10);
}

TEST(OnnxWriter, DerivedOpsetIsTheLargestPerDomain) {
  Builder b("mixed");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Node("Relu", {"x"}, {"a"}, 11);
  b.Node("Relu", {"a"}, {"b"}, 14, "ai.onnx");  // the same domain, spelled out
  b.Node("Scaler", {"b"}, {"c"}, 1, "ai.onnx.ml");
  b.Output("c");
  auto bytes = SerializeOnnx(*b.graph(), OnnxWriteOptions{});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(*bytes));
  ASSERT_EQ(mp.opset_import_size(), 2);
  EXPECT_EQ(mp.opset_import(0).domain(), "");
  EXPECT_EQ(mp.opset_import(0).version(), 14);
  EXPECT_EQ(mp.opset_import(1).domain(), "ai.onnx.ml");
  EXPECT_EQ(mp.opset_import(1).version(), 1);
  EXPECT_EQ(mp.graph().node(1).domain(), "");
}

TEST(OnnxWriter, GraphWithoutNodesStillImportsAiOnnx) {
  Builder b("");
  b.Input("x", DType::kFloat32, {Fixed(2)});
  b.g().outputs.push_back(b.Value("x"));
  auto bytes = SerializeOnnx(*b.graph(), OnnxWriteOptions{});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(*bytes));
  ASSERT_EQ(mp.opset_import_size(), 1);
  EXPECT_EQ(mp.opset_import(0).domain(), "");
  EXPECT_EQ(mp.graph().name(), "main_graph");
  Tensor y = RunOne(*bytes, {{"x", Tensor::FromVector<float>({1, 2})}}, 0);
  ExpectSameTensor(y, Tensor::FromVector<float>({1, 2}), "y");
}

// ------------------------------------------------------------------ errors

Status WriteError(const ir::Graph& g, const OnnxWriteOptions& options = {}) {
  auto bytes = SerializeOnnx(g, options);
  return bytes.ok() ? Status::Ok() : bytes.status();
}

TEST(OnnxWriterErrors, UndefinedValueIsNamed) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Node("Add", {"x", "ghost"}, {"y"}).name = "add";
  b.Output("y");
  Status s = WriteError(b.g());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("graph 'g': node 'add' (Add) reads 'ghost', which no input"));
}

TEST(OnnxWriterErrors, UndefinedGraphOutputIsNamed) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Output("nowhere");
  EXPECT_THAT(WriteError(b.g()).message(), HasSubstr("a graph output reads 'nowhere'"));
}

TEST(OnnxWriterErrors, NodesOutOfOrder) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Node("Relu", {"a"}, {"b"}).name = "second";
  b.Node("Relu", {"x"}, {"a"}).name = "first";
  b.Output("b");
  EXPECT_THAT(WriteError(b.g()).message(),
              HasSubstr("node 'second' (Relu) reads 'a' before node 'first' (Relu) produces it"));
}

TEST(OnnxWriterErrors, ValueDefinedTwice) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Node("Relu", {"x"}, {"a"});
  b.Node("Neg", {"x"}, {"a"});
  b.Output("a");
  EXPECT_THAT(WriteError(b.g()).message(), HasSubstr("value 'a' is defined twice"));
}

TEST(OnnxWriterErrors, TwoValuesWithOneName) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Node("Relu", {"x"}, {"a"});
  int twin = b.g().AddValue("a");
  b.g().nodes.back().outputs.push_back(twin);
  b.Output("a");
  EXPECT_THAT(WriteError(b.g()).message(), HasSubstr("are both named 'a'"));
}

TEST(OnnxWriterErrors, SubgraphMayNotRedefineAnOuterName) {
  Builder body("body");
  body.Outer("x");
  body.Node("Relu", {"x"}, {"x_copy"});
  body.Node("Identity", {"x_copy"}, {"h"});  // "h" is defined outside too
  body.Output("h");
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Input("cond", DType::kBool, {});
  b.Node("Relu", {"x"}, {"h"});
  ir::Node& iff = b.Node("If", {"cond"}, {"y"});
  iff.attributes["then_branch"] = GraphAttr(body.graph());
  iff.attributes["else_branch"] = GraphAttr(body.graph());
  b.Output("y");
  Status s = WriteError(b.g());
  EXPECT_THAT(s.message(), HasSubstr("graph 'body'"));
  EXPECT_THAT(s.message(), HasSubstr("defines 'h', which an enclosing graph already defines"));
  EXPECT_THAT(s.message(), HasSubstr("attribute 'else_branch'"));  // name order: else first
}

TEST(OnnxWriterErrors, SubgraphReadOfAnUnknownName) {
  Builder body("body");
  body.Node("Relu", {"outside"}, {"r"});
  body.Output("r");
  Builder b("g");
  b.Input("cond", DType::kBool, {});
  b.Node("If", {"cond"}, {"y"}).attributes["then_branch"] = GraphAttr(body.graph());
  b.g().nodes.back().attributes["else_branch"] = GraphAttr(body.graph());
  b.Output("y");
  EXPECT_THAT(WriteError(b.g()).message(),
              HasSubstr("reads 'outside', which no input, initializer or earlier node defines "
                        "(here or in an enclosing graph)"));
}

TEST(OnnxWriterErrors, MissingOpset) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Node("Scaler", {"x"}, {"y"}, 0, "ai.onnx.ml").name = "scale";
  b.Output("y");
  EXPECT_THAT(WriteError(b.g()).message(),
              HasSubstr("node 'scale' (ai.onnx.ml:Scaler): has no opset for domain 'ai.onnx.ml'"));
  OnnxWriteOptions options;
  options.opsets = {{"", 13}};
  EXPECT_THAT(
      WriteError(b.g(), options).message(),
      HasSubstr("uses domain 'ai.onnx.ml', which OnnxWriteOptions::opsets does not import"));
}

TEST(OnnxWriterErrors, GraphAttributeWithoutGraph) {
  Builder b("g");
  b.Input("cond", DType::kBool, {});
  b.Node("If", {"cond"}, {"y"}).attributes["then_branch"] = GraphAttr(nullptr);
  b.Output("y");
  EXPECT_THAT(WriteError(b.g()).message(),
              HasSubstr("attribute 'then_branch': is a graph attribute without a graph"));
}

TEST(OnnxWriterErrors, UntypedModelInput) {
  Builder b("g");
  b.Input("x", DType::kUndefined, {Fixed(1)});
  b.Output("x");
  EXPECT_THAT(WriteError(b.g()).message(), HasSubstr("input 'x' has no dtype"));
}

TEST(OnnxWriterErrors, InitializerWithoutDType) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Constant("w", Tensor());
  b.g().outputs.push_back(b.Value("x"));
  EXPECT_THAT(WriteError(b.g()).message(), HasSubstr("initializer 'w'"));
}

TEST(OnnxWriterErrors, ValueIdOutOfRange) {
  Builder b("g");
  b.Input("x", DType::kFloat32, {Fixed(1)});
  b.Node("Relu", {"x"}, {"y"}).inputs[0] = 42;
  b.Output("y");
  EXPECT_THAT(WriteError(b.g()).message(), HasSubstr("refers to value id 42"));
}

TEST(OnnxWriterErrors, SubgraphThatContainsItself) {
  auto loop = std::make_shared<ir::Graph>();
  loop->name = "loop";
  ir::Node n;
  n.op_type = "If";
  n.opset = 13;
  n.attributes["then_branch"] = GraphAttr(loop);
  loop->nodes.push_back(n);
  EXPECT_THAT(WriteError(*loop).message(), HasSubstr("nest deeper than"));
  loop->nodes.clear();  // break the cycle so the graph is freed
}

// ------------------------------------------------------------------- files

TEST(OnnxWriterFile, WritesALoadableFile) {
  ScratchDir dir("file");
  const fs::path path = dir.path() / "strings.onnx";
  ASSERT_TRUE(WriteOnnxFile(*StringModel(), OnnxWriteOptions{}, path.string()).ok());
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  auto model = LoadOnnxFile(path.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->outputs()[0].name, "labels");

  Status s =
      WriteOnnxFile(*StringModel(), OnnxWriteOptions{}, (dir.path() / "no/such.onnx").string());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("cannot create"));
  Builder bad("g");
  bad.Output("ghost");
  s = WriteOnnxFile(bad.g(), OnnxWriteOptions{}, (dir.path() / "bad.onnx").string());
  EXPECT_THAT(s.message(), HasSubstr("'ghost'"));
  EXPECT_FALSE(fs::exists(dir.path() / "bad.onnx"));
}

// ------------------------------------------------- ONNX's checker (python)

bool HavePythonOnnx(const fs::path& log) {
  return Shell("/usr/bin/python3 -c 'import onnx'", log, nullptr) == 0;
}

// Runs onnx.checker.check_model(full_check=True) on each file; returns ""
// when all pass, else what the checker said.
std::string CheckWithPython(const std::vector<fs::path>& files, const fs::path& log) {
  const char* script =
      "import sys, onnx\n"
      "bad = 0\n"
      "for p in sys.argv[1:]:\n"
      "    try:\n"
      "        onnx.checker.check_model(onnx.load(p), full_check=True)\n"
      "    except Exception as e:\n"
      "        print(p, ':', e); bad += 1\n"
      "sys.exit(1 if bad else 0)\n";
  std::string command = "/usr/bin/python3 -c " + Quote(script);
  for (const auto& f : files) command += " " + Quote(f.string());
  std::string output;
  int rc = Shell(command, log, &output);
  return rc == 0 ? std::string() : "exit " + std::to_string(rc) + ": " + output;
}

TEST(OnnxWriterChecker, WrittenModelsPassOnnxChecker) {
  ScratchDir dir("checker");
  if (!HavePythonOnnx(dir.path() / "probe.log")) {
    GTEST_SKIP() << "python3-onnx is not installed (apt-get install python3-onnx)";
  }
  // Debian's onnx 1.12 knows ai.onnx up to opset 17; every model here is at
  // or below it.
  std::vector<fs::path> files;
  for (const Case& c : RoundTripCases()) {
    auto bytes = Rewrite(c);
    ASSERT_TRUE(bytes.ok()) << c.name << ": " << bytes.status().ToString();
    files.push_back(dir.path() / (c.name + ".onnx"));
    WriteFile(files.back(), *bytes);
  }
  const std::vector<std::pair<std::string, std::shared_ptr<ir::Graph>>> built = {
      {"if_model", IfModel()}, {"strings", StringModel()}};
  for (const auto& [name, graph] : built) {
    auto bytes = SerializeOnnx(*graph, OnnxWriteOptions{});
    ASSERT_TRUE(bytes.ok()) << name << ": " << bytes.status().ToString();
    files.push_back(dir.path() / (name + ".onnx"));
    WriteFile(files.back(), *bytes);
  }
  EXPECT_EQ(CheckWithPython(files, dir.path() / "checker.log"), "");
}

// ----------------------------------------------------------- ONNX Runtime

// Runs tools/ort/run_model.js; returns the output .npy files' bytes, or
// fails the test with what node printed.
std::vector<std::string> RunOrt(const fs::path& model, const std::vector<fs::path>& inputs,
                                const fs::path& out_dir) {
  std::string command = "node " + Quote((SourceDir() / "tools/ort/run_model.js").string()) + " " +
                        Quote(model.string()) + " " + Quote(out_dir.string());
  for (const auto& in : inputs) command += " " + Quote(in.string());
  std::string output;
  int rc = Shell(command, out_dir.string() + ".log", &output);
  EXPECT_EQ(rc, 0) << model << ": " << output;
  std::vector<std::string> outs;
  for (int i = 0; fs::exists(out_dir / ("output_" + std::to_string(i) + ".npy")); ++i)
    outs.push_back(ReadFile(out_dir / ("output_" + std::to_string(i) + ".npy")));
  return outs;
}

bool HaveOrt(const fs::path& log) {
  return Shell("node --version", log, nullptr) == 0 &&
         fs::exists(SourceDir() / "tools/ort/node_modules/onnxruntime-node");
}

class OrtRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(OrtRoundTrip, OnnxRuntimeGivesBitwiseTheOriginalsOutputs) {
  const Case& c = GetParam();
  ScratchDir dir("ort_" + c.name);
  if (!HaveOrt(dir.path() / "probe.log")) {
    GTEST_SKIP() << "Node.js or tools/ort/node_modules/onnxruntime-node is missing "
                    "(scripts/setup.sh installs them)";
  }
  auto bytes = Rewrite(c);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  const fs::path written = dir.path() / "written.onnx";
  WriteFile(written, *bytes);
  fs::path input = c.input;
  if (input.extension() == ".json") {  // run_model.js reads .npy
    auto model = LoadOnnxFile(c.model.string());
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    auto feeds = Feeds(c, **model);
    ASSERT_TRUE(feeds.ok()) << feeds.status().ToString();
    ASSERT_EQ(feeds->size(), 1u);
    input = dir.path() / "input.npy";
    WriteFile(input, io::WriteNpy((*feeds)[0].tensor));
  }
  auto want = RunOrt(c.model, {input}, dir.path() / "original");
  auto got = RunOrt(written, {input}, dir.path() / "written");
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(got[i] == want[i]) << c.name << " output " << i << " differs";
}

INSTANTIATE_TEST_SUITE_P(Golden, OrtRoundTrip, ::testing::ValuesIn(RoundTripCases()), CaseName);

TEST(OnnxWriterOrt, IfModelRunsInOnnxRuntime) {
  ScratchDir dir("ort_if");
  if (!HaveOrt(dir.path() / "probe.log")) GTEST_SKIP() << "Node.js or onnxruntime-node missing";
  auto bytes = SerializeOnnx(*IfModel(), OnnxWriteOptions{});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  WriteFile(dir.path() / "if.onnx", *bytes);
  Tensor x = Tensor::FromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  WriteFile(dir.path() / "x.npy", io::WriteNpy(x));
  for (bool cond : {true, false}) {
    const std::string tag = cond ? "then" : "else";
    WriteFile(dir.path() / "cond.npy", io::WriteNpy(Tensor::Scalar<bool>(cond)));
    auto ort = RunOrt(dir.path() / "if.onnx", {dir.path() / "x.npy", dir.path() / "cond.npy"},
                      dir.path() / tag);
    ASSERT_EQ(ort.size(), 1u);
    auto parsed = io::ParseNpy(ort[0]);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    Tensor ours = RunOne(*bytes, {{"x", x}, {"cond", Tensor::Scalar<bool>(cond)}}, 0);
    ExpectSameTensor(*parsed, ours, tag);
  }
}

}  // namespace
}  // namespace tiffin::onnx_import
