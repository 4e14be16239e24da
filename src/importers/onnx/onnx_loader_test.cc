// Loader tests: well-formed models load and run; malformed ones give errors
// that name what is wrong. Models are built here with libonnx's protobuf
// classes so that each test states exactly what the file contains.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "importers/onnx/tensor_proto.h"
#include "tiffin/model.h"

namespace tiffin {
namespace {

using ::testing::HasSubstr;

void AddInput(onnx::GraphProto* g, const std::string& name, int elem,
              std::vector<std::string> dims) {
  auto* vi = g->add_input();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) {
      dim->set_dim_value(std::stoll(d));
    } else {
      dim->set_dim_param(d);
    }
  }
}

void AddOutput(onnx::GraphProto* g, const std::string& name) { g->add_output()->set_name(name); }

// y = x + b, with x [batch, 3] float and b an initializer.
onnx::ModelProto AddModel(int64_t opset = 13, int64_t ir = 8) {
  onnx::ModelProto m;
  m.set_ir_version(ir);
  m.set_producer_name("tiffin-test");
  auto* os = m.add_opset_import();
  os->set_domain("");
  os->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("add");
  AddInput(g, "x", onnx::TensorProto::FLOAT, {"batch", "3"});
  auto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(onnx::TensorProto::FLOAT);
  b->add_dims(3);
  for (float v : {1.f, 2.f, 3.f}) b->add_float_data(v);
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("x");
  n->add_input("b");
  n->add_output("y");
  AddOutput(g, "y");
  return m;
}

Result<std::shared_ptr<const Model>> Load(const onnx::ModelProto& m) {
  return LoadOnnxBytes(m.SerializeAsString(), "");
}

TEST(OnnxLoader, LoadsAndRunsTypedInitializers) {
  auto model = Load(AddModel());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->inputs()[0].name, "x");
  EXPECT_EQ(DimsToString((*model)->inputs()[0].shape), "[batch,3]");
  EXPECT_EQ((*model)->info().producer_name, "tiffin-test");
  EXPECT_EQ((*model)->info().parameter_count, 3);
  auto out = (*model)->Run({{"x", Tensor::FromVector<float>({1, 1, 1, 2, 2, 2}, {2, 3})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const float want[] = {2, 3, 4, 3, 4, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*out)[0].data<float>()[i], want[i]);
}

TEST(OnnxLoader, RawDataInitializers) {
  onnx::ModelProto m = AddModel();
  auto* b = m.mutable_graph()->mutable_initializer(0);
  b->clear_float_data();
  float v[3] = {10, 20, 30};
  b->set_raw_data(v, sizeof v);
  auto model = Load(m);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto out = (*model)->Run({{"x", Tensor(DType::kFloat32, {1, 3})}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].data<float>()[2], 30);
}

TEST(OnnxLoader, RawDataOfWrongSizeIsDataLoss) {
  onnx::ModelProto m = AddModel();
  auto* b = m.mutable_graph()->mutable_initializer(0);
  b->clear_float_data();
  b->set_raw_data(std::string(8, '\0'));
  auto model = Load(m);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(model.status().message(), HasSubstr("tensor 'b'"));
  EXPECT_THAT(model.status().message(), HasSubstr("raw_data has 8 bytes"));
}

TEST(OnnxLoader, ExternalDataIsReadFromTheModelFolderOnly) {
  auto dir = std::filesystem::temp_directory_path() / "tiffin_ext_test";
  std::filesystem::create_directories(dir);
  float v[3] = {5, 6, 7};
  std::ofstream(dir / "weights.bin", std::ios::binary).write(reinterpret_cast<char*>(v), sizeof v);
  onnx::ModelProto m = AddModel();
  auto* b = m.mutable_graph()->mutable_initializer(0);
  b->clear_float_data();
  b->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = b->add_external_data();
  loc->set_key("location");
  loc->set_value("weights.bin");
  std::ofstream(dir / "model.onnx", std::ios::binary) << m.SerializeAsString();
  auto model = LoadOnnxFile((dir / "model.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto out = (*model)->Run({{"x", Tensor(DType::kFloat32, {1, 3})}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].data<float>()[0], 5);

  loc->set_value("../../etc/passwd");
  std::ofstream(dir / "evil.onnx", std::ios::binary) << m.SerializeAsString();
  auto evil = LoadOnnxFile((dir / "evil.onnx").string());
  ASSERT_FALSE(evil.ok());
  EXPECT_THAT(evil.status().message(), HasSubstr("leaves the model's folder"));
  std::filesystem::remove_all(dir);
}

TEST(OnnxLoader, TruncatedFileIsAnErrorNotACrash) {
  std::string bytes = AddModel().SerializeAsString();
  for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    auto model = LoadOnnxBytes(bytes.substr(0, cut), "");
    EXPECT_FALSE(model.ok()) << "cut at " << cut;
  }
}

TEST(OnnxLoader, GarbageIsRefusedAsNotOnnx) {
  auto model = LoadOnnxBytes("this is not a model at all, just text", "");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("not a valid ONNX model"));
}

TEST(OnnxLoader, UnsupportedOpNamesOpDomainOpsetAndNode) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_op_type("FancyOp");
  m.mutable_graph()->mutable_node(0)->set_name("fancy1");
  auto model = Load(m);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(model.status().message(), HasSubstr("FancyOp"));
  EXPECT_THAT(model.status().message(), HasSubstr("opset 13"));
  EXPECT_THAT(model.status().message(), HasSubstr("node 'fancy1'"));
  EXPECT_THAT(model.status().message(), HasSubstr("tiffin supports in ai.onnx: "));
  EXPECT_THAT(model.status().message(), HasSubstr("Add"));
}

TEST(OnnxLoader, OpsetsOutsideTheRangeAreRefused) {
  auto newer = Load(AddModel(/*opset=*/26));
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.status().message(), HasSubstr("opset 26"));
  auto old_ir = Load(AddModel(13, /*ir=*/2));
  ASSERT_FALSE(old_ir.ok());
  EXPECT_THAT(old_ir.status().message(), HasSubstr("IR version 2"));
  // Add before opset 7 had a `broadcast` attribute: refused by the registry.
  auto old_add = Load(AddModel(/*opset=*/6));
  ASSERT_FALSE(old_add.ok());
  EXPECT_THAT(old_add.status().message(), HasSubstr("semantics differ at opset 6"));
}

TEST(OnnxLoader, MlDomainIsAccepted) {
  onnx::ModelProto m = AddModel();
  auto* os = m.add_opset_import();
  os->set_domain("ai.onnx.ml");
  os->set_version(3);
  EXPECT_TRUE(Load(m).ok());
  // An unknown op in that domain is refused with the domain's own list.
  m.mutable_graph()->mutable_node(0)->set_domain("ai.onnx.ml");
  m.mutable_graph()->mutable_node(0)->set_op_type("NoSuchMlOp");
  auto model = Load(m);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("ai.onnx.ml:NoSuchMlOp"));
  EXPECT_THAT(model.status().message(), HasSubstr("tiffin supports in ai.onnx.ml: "));
}

TEST(OnnxLoader, UndefinedValueAndCyclesAreRefused) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_input(1, "nowhere");
  auto model = Load(m);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("'nowhere'"));

  onnx::ModelProto c = AddModel();
  auto* n2 = c.mutable_graph()->add_node();
  n2->set_op_type("Add");
  n2->add_input("y");
  n2->add_input("b");
  n2->add_output("z");
  c.mutable_graph()->mutable_node(0)->set_input(1, "z");
  auto cyclic = Load(c);
  ASSERT_FALSE(cyclic.ok());
  EXPECT_THAT(cyclic.status().message(), HasSubstr("cycle"));
}

TEST(OnnxLoader, NodesOutOfOrderAreSorted) {
  onnx::ModelProto m = AddModel();
  auto* g = m.mutable_graph();
  auto* n2 = g->add_node();
  n2->set_op_type("Add");
  n2->add_input("y");
  n2->add_input("b");
  n2->add_output("z");
  g->mutable_node()->SwapElements(0, 1);
  g->mutable_output(0)->set_name("z");
  auto model = Load(m);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto out = (*model)->Run({{"x", Tensor(DType::kFloat32, {1, 3})}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].data<float>()[2], 6);
}

TEST(ModelRun, WrongInputNameRankDtypeAndDimsAreNamed) {
  auto model = Load(AddModel());
  ASSERT_TRUE(model.ok());
  auto r1 = (*model)->Run({{"X", Tensor(DType::kFloat32, {1, 3})}});
  ASSERT_FALSE(r1.ok());
  EXPECT_THAT(r1.status().message(), HasSubstr("'X' is not an input"));
  EXPECT_THAT(r1.status().message(), HasSubstr("'x' (float32 [batch,3])"));
  auto r2 = (*model)->Run({{"x", Tensor(DType::kFloat32, {3})}});
  ASSERT_FALSE(r2.ok());
  EXPECT_THAT(r2.status().message(), HasSubstr("expected rank 2"));
  auto r3 = (*model)->Run({{"x", Tensor(DType::kInt64, {1, 3})}});
  ASSERT_FALSE(r3.ok());
  EXPECT_THAT(r3.status().message(), HasSubstr("expected dtype float32, got int64"));
  auto r4 = (*model)->Run({{"x", Tensor(DType::kFloat32, {1, 4})}});
  ASSERT_FALSE(r4.ok());
  EXPECT_THAT(r4.status().message(), HasSubstr("dim 1 should be 3, got 4"));
  auto r5 = (*model)->Run({});
  ASSERT_FALSE(r5.ok());
  EXPECT_THAT(r5.status().message(), HasSubstr("missing input 'x'"));
}

TEST(ModelRun, ShapeMismatchAtRunTimeNamesTheNode) {
  onnx::ModelProto m = AddModel();
  // Declare x without a shape so the mismatch reaches the kernel.
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  auto model = Load(m);
  ASSERT_TRUE(model.ok());
  auto r = (*model)->Run({{"x", Tensor(DType::kFloat32, {2, 5})}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("do not broadcast"));
  EXPECT_THAT(r.status().message(), HasSubstr("(Add)"));
}

TEST(ModelRun, AbsurdAllocationsAreRefusedByTheLimit) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  LoadOptions options;
  options.max_tensor_bytes = 1024;
  auto model = LoadOnnxBytes(m.SerializeAsString(), "", options);
  ASSERT_TRUE(model.ok());
  auto r = (*model)->Run({{"x", Tensor(DType::kFloat32, {1000, 3})}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);

  // An initializer declaring absurd dims is refused at load, not allocated.
  onnx::ModelProto huge = AddModel();
  auto* b = huge.mutable_graph()->mutable_initializer(0);
  b->clear_dims();
  b->add_dims(int64_t{1} << 40);
  b->add_dims(int64_t{1} << 30);
  auto h = Load(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("tensor 'b'"));
}

TEST(ModelRun, ManyThreadsShareOneModel) {
  auto model = Load(AddModel());
  ASSERT_TRUE(model.ok());
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const int64_t rows = 1 + (t + i) % 4;
        Tensor x(DType::kFloat32, {rows, 3});
        for (int64_t k = 0; k < x.size(); ++k)
          x.data<float>()[k] = static_cast<float>(t * 1000 + i);
        auto out = (*model)->Run({{"x", x}});
        if (!out.ok() || (*out)[0].shape() != Shape{rows, 3}) {
          ++bad;
          continue;
        }
        for (int64_t k = 0; k < x.size(); ++k)
          if ((*out)[0].data<float>()[k] !=
              static_cast<float>(t * 1000 + i) + static_cast<float>(k % 3 + 1))
            ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(TensorProto, RoundTripsThroughSerialize) {
  Tensor t = Tensor::FromVector<int64_t>({1, -2, 3}, {3});
  auto bytes = onnx_import::SerializeTensorProto(t, "t");
  ASSERT_TRUE(bytes.ok());
  onnx::TensorProto p;
  ASSERT_TRUE(p.ParseFromString(*bytes));
  auto back = onnx_import::TensorFromProto(p, nullptr, LoadOptions{});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data<int64_t>()[1], -2);
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

TEST(ModelRun, OutputsAreTheCallersToWrite) {
  // y = Identity(b) where b is an initializer: writing into the returned
  // tensor must not change the model.
  onnx::ModelProto m = AddModel();
  auto* n = m.mutable_graph()->mutable_node(0);
  n->set_op_type("Identity");
  n->clear_input();
  n->add_input("b");
  m.mutable_graph()->clear_input();
  auto model = Load(m);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto first = (*model)->Run({});
  ASSERT_TRUE(first.ok());
  (*first)[0].data<float>()[0] = 99;
  auto second = (*model)->Run({});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].data<float>()[0], 1);
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

// Review finding: a shape whose byte count wraps around 2^64 matched a
// planned arena slot. s -> ConstantOfShape -> Relu: run 1 plans 64 bytes,
// run 2 asks for 2^62+16 floats (also 64 bytes modulo 2^64).
TEST(Regression, WrappedByteCountsCannotReuseAPlannedSlot) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  AddInput(g, "s", onnx::TensorProto::INT64, {"1"});
  auto* c = g->add_node();
  c->set_op_type("ConstantOfShape");
  c->add_input("s");
  c->add_output("z");
  auto* r = g->add_node();
  r->set_op_type("Relu");
  r->add_input("z");
  r->add_output("y");
  auto* sum = g->add_node();
  sum->set_op_type("ReduceSum");
  sum->add_input("y");
  sum->add_output("out");
  AddOutput(g, "out");
  auto model = Load(m);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_TRUE((*model)->Run({{"s", Tensor::FromVector<int64_t>({16})}}).ok());
  ASSERT_TRUE((*model)->Run({{"s", Tensor::FromVector<int64_t>({16})}}).ok());
  auto wrapped = (*model)->Run({{"s", Tensor::FromVector<int64_t>({(int64_t{1} << 62) + 16})}});
  ASSERT_FALSE(wrapped.ok());
  EXPECT_EQ(wrapped.status().code(), StatusCode::kResourceExhausted);
}

// Review finding: a second omitted output reallocated the scratch vector
// while the kernel held a pointer into it (TopK with both outputs omitted).
TEST(Regression, OmittedOutputsStayValidWhileTheKernelRuns) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  AddInput(g, "x", onnx::TensorProto::FLOAT, {"4"});
  auto* k = g->add_initializer();
  k->set_name("k");
  k->set_data_type(onnx::TensorProto::INT64);
  k->add_dims(1);
  k->add_int64_data(2);
  auto* t = g->add_node();
  t->set_op_type("TopK");
  t->add_input("x");
  t->add_input("k");
  t->add_output("");
  t->add_output("");
  auto* id = g->add_node();
  id->set_op_type("Identity");
  id->add_input("x");
  id->add_output("y");
  AddOutput(g, "y");
  auto model = Load(m);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE((*model)->Run({{"x", Tensor::FromVector<float>({1, 4, 2, 3})}}).ok());
}

// Review finding: external data followed a symlink out of the model folder.
TEST(Regression, ExternalDataSymlinkOutOfTheFolderIsRefused) {
  namespace fs = std::filesystem;
  auto root = fs::temp_directory_path() / "tiffin_symlink_test";
  fs::remove_all(root);
  fs::create_directories(root / "model");
  std::ofstream(root / "secret.bin", std::ios::binary) << std::string(12, 'S');
  fs::create_symlink(root / "secret.bin", root / "model" / "weights.bin");
  onnx::ModelProto m = AddModel();
  auto* b = m.mutable_graph()->mutable_initializer(0);
  b->clear_float_data();
  b->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = b->add_external_data();
  loc->set_key("location");
  loc->set_value("weights.bin");
  std::ofstream(root / "model" / "model.onnx", std::ios::binary) << m.SerializeAsString();
  auto model = LoadOnnxFile((root / "model" / "model.onnx").string());
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("resolves outside the model's folder"));
  fs::remove_all(root);
}

// Review finding: huge declared dims were allocated before the data was
// checked; a tiny file must be refused without allocating.
TEST(Regression, DeclaredDimsWithoutDataAreRefusedBeforeAllocating) {
  onnx::ModelProto m = AddModel();
  auto* b = m.mutable_graph()->mutable_initializer(0);
  b->clear_dims();
  b->add_dims(int64_t{1} << 28);  // 1 GiB of floats, three values present
  auto model = Load(m);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(model.status().message(), HasSubstr("holds 3 values"));
}

}  // namespace
}  // namespace tiffin
