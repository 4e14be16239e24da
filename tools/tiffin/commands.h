// The tiffin CLI's subcommands. Each takes its arguments (after the
// subcommand name) and returns the process exit code: 0 on success, 1 on
// error (printed to stderr), 2 on a usage error. Standard output carries only
// the command's result, so it stays parseable.
#ifndef TIFFIN_TOOLS_TIFFIN_COMMANDS_H_
#define TIFFIN_TOOLS_TIFFIN_COMMANDS_H_

#include <string>
#include <vector>

namespace tiffin::cli {

// "a,b,c" -> {"a", "b", "c"} (empty items dropped): --steps values.
std::vector<std::string> SplitSteps(const std::string& s);

int Inspect(const std::vector<std::string>& args);
int Predict(const std::vector<std::string>& args);
int Ops(const std::vector<std::string>& args);
int Convert(const std::vector<std::string>& args);
int Diff(const std::vector<std::string>& args);
int Doctor(const std::vector<std::string>& args);
int Pack(const std::vector<std::string>& args);
int Serve(const std::vector<std::string>& args);  // serve_command.cc

}  // namespace tiffin::cli

#endif  // TIFFIN_TOOLS_TIFFIN_COMMANDS_H_
