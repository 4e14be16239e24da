// Picks an importer from a file's content, not its extension.
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "bundle/bundle.h"
#include "exec/executor.h"
#include "importers/gbdt/import.h"
#include "importers/keras/keras.h"
#include "importers/load.h"
#include "importers/onnx/onnx_loader.h"
#include "importers/onnx/onnx_writer.h"
#include "importers/onnx/tensor_proto.h"
#include "importers/sklearn/sklearn.h"
#include "importers/torch/torch_archive.h"
#include "importers/torch/torchscript.h"
#include "tiffin/model.h"

namespace tiffin {

std::string DetectFormat(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("\x89HDF\r\n\x1a\n")) return "hdf5";
  if (bundle::LooksLikeBundle(head)) return "tiffin-bundle";  // docs/bundle-format.md
  if (starts("PK\x03\x04")) return "zip";
  if (starts("\x93NUMPY")) return "npy";
  if (torch_import::LooksLikeTorchLegacy(head)) return "torch-legacy";  // PyTorch < 1.6 torch.save
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 &&
      static_cast<unsigned char>(head[1]) >= 2 && static_cast<unsigned char>(head[1]) <= 5) {
    return "pickle";
  }
  if (starts("\x1f\x8b")) return "gzip";
  // Protocol 0/1 pickles (Python 2's default) have no PROTO opcode: they
  // open with MARK, an empty container or a text GLOBAL ("cmodule\nname\n").
  if (!head.empty() && (head[0] == '(' || head[0] == '}' || head[0] == ']' || head[0] == ')')) {
    return "pickle";
  }
  if (head.size() > 2 && head[0] == 'c') {
    size_t i = 1;
    while (i < head.size() &&
           (std::isalnum(static_cast<unsigned char>(head[i])) || head[i] == '_' || head[i] == '.'))
      ++i;
    if (i > 1 && i < head.size() && head[i] == '\n') return "pickle";
  }
  if (starts("BZh")) return "bzip2";
  if (starts("\xfd"
             "7zXZ"))
    return "xz";
  if (starts("\x28\xb5\x2f\xfd")) return "zstd";
  if (starts("\x04\x22\x4d\x18")) return "lz4";
  if (starts("\x5d\x00\x00")) return "lzma";
  if (starts("ZF")) return "joblib-zfile";
  // zlib: CMF 0x78 and a header checksum divisible by 31 (RFC 1950).
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x78 &&
      ((static_cast<unsigned char>(head[0]) << 8) | static_cast<unsigned char>(head[1])) % 31 ==
          0) {
    return "zlib";
  }
  size_t i = 0;
  while (i < head.size() &&
         (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t'))
    ++i;
  if (i < head.size() && (head[i] == '{' || head[i] == '[')) return "json";
  if (starts("tree\n") || starts("version=v")) return "lightgbm-text";
  // An ONNX ModelProto starts with field 1 (ir_version, varint: 0x08) in
  // practice; protobuf allows other orders, so this is a hint, not a proof.
  if (!head.empty() && (head[0] == 0x08 || head[0] == 0x12 || head[0] == 0x1a || head[0] == 0x3a)) {
    return "onnx";
  }
  return "unknown";
}

bool IsPickleFormat(const std::string& format) {
  return format == "pickle" || format == "gzip" || format == "bzip2" || format == "xz" ||
         format == "zstd" || format == "lz4" || format == "lzma" || format == "zlib" ||
         format == "joblib-zfile";
}

namespace {

// HDF5 files are Keras files; a zip is one when it holds a config.json
// (Keras 3 .keras), or when --config names an architecture JSON.
bool IsKerasFile(const std::string& format, const std::string& path, const LoadOptions& options) {
  if (format == "hdf5") return true;
  if (format != "zip") return false;
  if (!options.config_path.empty()) return true;
  std::ifstream in(path, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  // Keras writes metadata.json / config.json first; torch archives name
  // their members "<archive>/data.pkl".
  return head.find("config.json") != std::string::npos ||
         head.find("metadata.json") != std::string::npos;
}

}  // namespace

Result<std::string> DetectFileFormat(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFound("model file '" + path + "' not found");
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument("'" + path + "' is a directory; give the model file inside it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path + "'");
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.empty()) return DataLoss(path + ": the file is empty");
  return DetectFormat(head);
}

bool IsGradientBoostingFile(const std::string& path) {
  auto format = DetectFileFormat(path);
  return format.ok() && gbdt::GradientBoostingKind(path, *format) != gbdt::Kind::kNone;
}

Result<ExportableGraph> ImportGraphForExport(const std::string& path, const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(const std::string format, DetectFileFormat(path));
  ExportableGraph out;
  onnx_import::OnnxWriteOptions& w = out.write;
  w.producer_name = "tiffin";
  w.producer_version = Version();
  std::shared_ptr<const ir::Graph>& graph = out.graph;
  TIFFIN_ASSIGN_OR_RETURN(auto gb, gbdt::ImportGradientBoosting(path, format, options));
  if (gb) {
    graph = gb->graph;
    w.doc_string = "Converted by tiffin from " + gb->info.format;
    w.metadata = gb->info.metadata;
    w.metadata["source_library"] = gb->info.producer_name;
    w.metadata["source_library_version"] = gb->info.producer_version;
    auto compiled = exec::CompiledGraph::Compile(graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
  } else if (IsPickleFormat(format)) {
    TIFFIN_ASSIGN_OR_RETURN(sklearn::ImportedGraph g, sklearn::ImportSklearnFile(path, options));
    graph = g.graph;
    w.doc_string = "Converted by tiffin from " + g.info.format + " (" + g.info.producer_name + " " +
                   g.info.producer_version + ")";
    w.metadata = g.info.metadata;
    w.metadata["source_library"] = g.info.producer_name;
    w.metadata["source_library_version"] = g.info.producer_version;
    // Let the compiler check the graph before it leaves tiffin.
    auto compiled = exec::CompiledGraph::Compile(graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
  } else if (format == "tiffin-bundle") {
    // The bundle is verified first (checksums, reference cases unless
    // --no-verify): a damaged bundle is not converted into a clean-looking
    // ONNX file. Its provenance travels in the metadata.
    TIFFIN_ASSIGN_OR_RETURN(bundle::OpenedBundle b, bundle::OpenBundleFile(path, options));
    graph = b.graph;
    w.opsets = b.opsets;
    const ModelInfo& info = b.model->info();
    w.metadata = info.metadata;
    w.metadata["source_library"] = info.producer_name;
    w.metadata["source_library_version"] = info.producer_version;
    w.doc_string =
        "Converted by tiffin from the bundle " + std::filesystem::path(path).filename().string();
  } else if (format == "torch-legacy" ||
             (format == "zip" &&
              torch_import::DetectTorchFile(path) == torch_import::TorchFileKind::kSave)) {
    // A state_dict: tensors without an architecture, nothing to convert.
    TIFFIN_ASSIGN_OR_RETURN(torch_import::TorchArchive a, torch_import::ReadTorchFile(path));
    return torch_import::StateDictIsNotAModel(path, a);
  } else if (IsKerasFile(format, path, options)) {
    TIFFIN_ASSIGN_OR_RETURN(sklearn::ImportedGraph g, keras::ImportKerasFile(path, options));
    graph = g.graph;
    w.doc_string =
        "Converted by tiffin from " + g.info.format + " (keras " + g.info.producer_version + ")";
    w.metadata = g.info.metadata;
    w.metadata["source_library"] = "keras";
    w.metadata["source_library_version"] = g.info.producer_version;
    auto compiled = exec::CompiledGraph::Compile(graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
  } else if (format == "zip" &&
             torch_import::DetectTorchFile(path) == torch_import::TorchFileKind::kTorchScript) {
    TIFFIN_ASSIGN_OR_RETURN(sklearn::ImportedGraph g,
                            torch_import::ImportTorchScriptFile(path, options));
    graph = g.graph;
    w.doc_string = "Converted by tiffin from a TorchScript archive";
    w.metadata = g.info.metadata;
    auto compiled = exec::CompiledGraph::Compile(graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
  } else if (format == "onnx" || format == "unknown") {
    TIFFIN_ASSIGN_OR_RETURN(std::string bytes,
                            onnx_import::ReadFileBytes(path, options.max_file_bytes));
    const std::string dir = std::filesystem::path(path).parent_path().string();
    TIFFIN_ASSIGN_OR_RETURN(onnx_import::ParsedOnnx parsed,
                            onnx_import::ParseOnnxGraph(bytes, dir.empty() ? "." : dir, options));
    graph = parsed.graph;
    w.opsets = parsed.opsets;
    w.metadata = parsed.info.metadata;
    w.producer_name = parsed.info.producer_name;
    w.producer_version = parsed.info.producer_version;
  } else {
    return NotSupported(path + ": converting " + format + " files is not supported yet");
  }
  return out;
}

Status ConvertToOnnx(const std::string& path, const std::string& out_path,
                     const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(ExportableGraph e, ImportGraphForExport(path, options));
  return onnx_import::WriteOnnxFile(*e.graph, e.write, out_path);
}

Result<std::shared_ptr<const Model>> LoadModel(const std::string& path,
                                               const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(const std::string format, DetectFileFormat(path));
  auto refuse = [&](const char* what) -> Status {
    return NotSupported(path + ": this file looks like " + std::string(what) +
                        "; tiffin does not read this format yet (export the model to ONNX, or "
                        "use a tiffin version with that importer)");
  };
  TIFFIN_ASSIGN_OR_RETURN(auto gb, gbdt::ImportGradientBoosting(path, format, options));
  if (gb) {
    auto compiled = exec::CompiledGraph::Compile(gb->graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
    return exec::MakeModel(*compiled, gb->inputs, gb->outputs, gb->info);
  }
  if (IsPickleFormat(format)) {
    // Pickles and (compressed) joblib files: scikit-learn.
    TIFFIN_ASSIGN_OR_RETURN(sklearn::ImportedGraph g, sklearn::ImportSklearnFile(path, options));
    auto compiled = exec::CompiledGraph::Compile(g.graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
    return exec::MakeModel(*compiled, g.inputs, g.outputs, g.info);
  }
  if (format == "tiffin-bundle") return bundle::LoadBundleFile(path, options);
  // PyTorch: TorchScript Sequentials convert; torch.save files hold tensors, not a graph.
  const auto torch_kind =
      format == "zip" ? torch_import::DetectTorchFile(path) : torch_import::TorchFileKind::kNone;
  if (torch_kind == torch_import::TorchFileKind::kTorchScript) {
    TIFFIN_ASSIGN_OR_RETURN(sklearn::ImportedGraph g,
                            torch_import::ImportTorchScriptFile(path, options));
    auto compiled = exec::CompiledGraph::Compile(g.graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
    return exec::MakeModel(*compiled, g.inputs, g.outputs, g.info);
  }
  if (format == "torch-legacy" || torch_kind != torch_import::TorchFileKind::kNone) {
    torch_import::TorchReadOptions topt;
    topt.max_file_bytes = options.max_file_bytes;
    topt.max_tensor_bytes = options.max_tensor_bytes;
    TIFFIN_ASSIGN_OR_RETURN(torch_import::TorchArchive a, torch_import::ReadTorchFile(path, topt));
    return torch_import::StateDictIsNotAModel(path, a);
  }
  if (IsKerasFile(format, path, options)) {
    TIFFIN_ASSIGN_OR_RETURN(sklearn::ImportedGraph g, keras::ImportKerasFile(path, options));
    auto compiled = exec::CompiledGraph::Compile(g.graph, options);
    if (!compiled.ok()) return compiled.status().WithContext(path);
    return exec::MakeModel(*compiled, g.inputs, g.outputs, g.info);
  }
  if (format == "hdf5") return refuse("an HDF5 file (Keras .h5)");
  if (format == "zip") return refuse("a zip archive (Keras .keras or PyTorch .pt)");
  if (format == "npy") {
    return InvalidArgument(path + ": this is a .npy array, not a model (pass it with --input)");
  }
  if (format == "json") {
    return refuse("a JSON document that is not an XGBoost model (no \"learner\"; a Keras config?)");
  }
  return LoadOnnxFile(path, options);
}

}  // namespace tiffin
