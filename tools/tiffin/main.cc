// tiffin: load and run saved models. Subcommand dispatch only; the work is in
// the libraries.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tiffin/model.h"
#include "tools/tiffin/commands.h"

namespace {

void Usage() {
  std::fprintf(
      stderr,
      "usage: tiffin <command> [options]\n"
      "\n"
      "commands:\n"
      "  inspect MODEL [--json] [--steps A,B]           show a model's format, inputs,\n"
      "                                                 outputs, operators and size\n"
      "  predict MODEL --input FILE [--output FILE]     run a model on FILE (KServe v2\n"
      "                                                 JSON, {\"name\": [...]}, .npy or\n"
      "                                                 CSV); prints v2 JSON outputs\n"
      "  convert MODEL -o OUT.onnx [--steps A,B]        write a scikit-learn pickle/joblib\n"
      "                                                 file, a bundle (or ONNX) as one\n"
      "                                                 standard ONNX file\n"
      "  pack MODEL -o OUT.tiffin [--reference DATA]    bundle a model with its schema,\n"
      "                                                 provenance and reference cases\n"
      "  serve PATH [--http-port 8080] [--threads N]     serve models over HTTP (KServe V2,\n"
      "                                                 TF Serving, MLflow, /metrics)\n"
      "  ops [--json]                                   list the operators tiffin runs,\n"
      "                                                 with their opset ranges\n"
      "  --version                                      print the version\n"
      "\n"
      "run 'tiffin <command> --help' for a command's options\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "--version" || cmd == "version") {
    std::printf("tiffin %s\n", tiffin::Version());
    return 0;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    Usage();
    return 0;
  }
  if (cmd == "inspect") return tiffin::cli::Inspect(args);
  if (cmd == "predict") return tiffin::cli::Predict(args);
  if (cmd == "ops") return tiffin::cli::Ops(args);
  if (cmd == "convert") return tiffin::cli::Convert(args);
  if (cmd == "diff") return tiffin::cli::Diff(args);
  if (cmd == "doctor") return tiffin::cli::Doctor(args);
  if (cmd == "pack") return tiffin::cli::Pack(args);
  if (cmd == "serve") return tiffin::cli::Serve(args);
  std::fprintf(stderr, "tiffin: unknown command '%s'\n\n", cmd.c_str());
  Usage();
  return 2;
}
