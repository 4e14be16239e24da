#include "importers/torch/torchscript_source.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace tiffin::torch_import {
namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

size_t Indent(const std::string& line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  return i;
}

// The body of `def <fn>(` at indentation `indent` in lines [from, to).
Result<std::vector<std::string>> FunctionBody(const std::vector<std::string>& lines, size_t from,
                                              size_t to, size_t indent, const std::string& fn,
                                              std::string* signature) {
  const std::string head = std::string(indent, ' ') + "def " + fn + "(";
  for (size_t i = from; i < to; ++i) {
    if (lines[i].rfind(head, 0) != 0) continue;
    // The signature runs to the first line ending with ':'.
    size_t j = i;
    std::string sig;
    while (j < to) {
      const std::string t = Trim(lines[j]);
      sig += t;
      if (!t.empty() && t.back() == ':') break;
      if (sig.size() > 4096) return NotSupported("the signature of '" + fn + "' is too long");
      ++j;
    }
    if (signature) *signature = sig;
    std::vector<std::string> body;
    for (++j; j < to; ++j) {
      if (Trim(lines[j]).empty()) continue;
      const size_t in = Indent(lines[j]);
      if (in <= indent) break;
      std::string l = lines[j].substr(std::min(in, indent + 2));
      while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
      body.push_back(std::move(l));
    }
    return body;
  }
  return NotSupported("no 'def " + fn + "' found");
}

bool ParseOne(std::string_view t, Literal* lit) {
  std::string s = Trim(t);
  // name=value
  size_t eq = s.find('=');
  if (eq != std::string::npos && eq > 0 && s[0] != '"' && s[0] != '[') {
    const std::string key = s.substr(0, eq);
    for (char c : key)
      if (!IsWordChar(c)) return false;
    lit->keyword = key;
    s = s.substr(eq + 1);
  }
  if (s.empty()) return false;
  if (s == "None") {
    lit->kind = Literal::kNone;
    return true;
  }
  if (s == "True" || s == "False") {
    lit->kind = Literal::kBool;
    lit->number = s == "True" ? 1 : 0;
    return true;
  }
  if (s.front() == '"') {
    if (s.size() < 2 || s.back() != '"') return false;
    const std::string inner = s.substr(1, s.size() - 2);
    for (char c : inner)
      if (!IsWordChar(c)) return false;
    lit->kind = Literal::kString;
    lit->text = inner;
    return true;
  }
  if (s.front() == '[') {
    if (s.back() != ']') return false;
    lit->kind = Literal::kIntList;
    std::string inner = s.substr(1, s.size() - 2);
    size_t start = 0;
    while (start < inner.size()) {
      size_t comma = inner.find(',', start);
      if (comma == std::string::npos) comma = inner.size();
      const std::string item = Trim(std::string_view(inner).substr(start, comma - start));
      if (item.empty() || item.size() > 18) return false;
      size_t k = item[0] == '-' ? 1 : 0;
      if (k == item.size()) return false;
      for (; k < item.size(); ++k)
        if (!IsDigit(item[k])) return false;
      const long long v = std::strtoll(item.c_str(), nullptr, 10);
      if (v > (int64_t{1} << 31) || v < -(int64_t{1} << 31)) return false;
      lit->ints.push_back(v);
      if (lit->ints.size() > 16) return false;
      start = comma + 1;
    }
    return true;
  }
  // A number: an int when it is only digits.
  bool all_digits = true;
  for (size_t k = s[0] == '-' ? 1 : 0; k < s.size(); ++k)
    if (!IsDigit(s[k])) all_digits = false;
  if (s.size() > 40) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  for (char c : s)
    if (!IsDigit(c) && c != '.' && c != '-' && c != '+' && c != 'e') return false;
  lit->kind = all_digits && s != "-" ? Literal::kInt : Literal::kFloat;
  // Ints are sizes, dims and counts: bounded so that casts and products
  // stay defined.
  if (lit->kind == Literal::kInt && std::fabs(v) > static_cast<double>(int64_t{1} << 31))
    return false;
  lit->number = v;
  return true;
}

}  // namespace

bool ParseLiterals(std::string_view text, std::vector<Literal>* out) {
  out->clear();
  if (text.size() > 2000) return false;
  // Split at top-level commas.
  std::vector<std::string> items;
  size_t start = 0, depth = 0;
  bool in_string = false;
  for (size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : ',';
    if (in_string) {
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[') ++depth;
    if (c == ']') {
      if (depth == 0) return false;
      --depth;
    }
    if (c == ',' && depth == 0) {
      items.push_back(Trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (in_string || depth != 0) return false;
  // A leading ", " (after `input`) and the printer's trailing ", " leave
  // empty items at the ends; nowhere else.
  if (items.size() > 1 && items.front().empty()) items.erase(items.begin());
  if (!items.empty() && items.back().empty()) items.pop_back();
  if (items.size() > 16) return false;
  for (const std::string& item : items) {
    Literal lit;
    if (item.empty() || !ParseOne(item, &lit)) return false;
    out->push_back(std::move(lit));
  }
  return true;
}

std::vector<std::string> Canonicalize(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> names;
  std::vector<std::string> out;
  out.reserve(lines.size());
  for (const std::string& line : lines) {
    std::string o;
    o.reserve(line.size());
    for (size_t i = 0; i < line.size();) {
      const char c = line[i];
      if (c == '"') {
        size_t j = line.find('"', i + 1);
        j = j == std::string::npos ? line.size() : j + 1;
        o.append(line, i, j - i);
        i = j;
        continue;
      }
      if (IsDigit(c)) {
        // A number: digits, '.', an exponent.
        size_t j = i;
        while (j < line.size() && (IsDigit(line[j]) || line[j] == '.')) ++j;
        if (j < line.size() && (line[j] == 'e' || line[j] == 'E')) {
          size_t k = j + 1;
          if (k < line.size() && (line[k] == '-' || line[k] == '+')) ++k;
          if (k < line.size() && IsDigit(line[k])) {
            j = k;
            while (j < line.size() && IsDigit(line[j])) ++j;
          }
        }
        o.append(line, i, j - i);
        i = j;
        continue;
      }
      if (IsWordChar(c)) {
        size_t j = i;
        while (j < line.size() && IsWordChar(line[j])) ++j;
        const std::string word = line.substr(i, j - i);
        const bool attribute = i > 0 && line[i - 1] == '.';
        if (!attribute && IsDigit(word.back()) &&
            word.find("___torch_mangle_") == std::string::npos) {
          auto it = names.find(word);
          if (it == names.end()) it = names.emplace(word, "$" + std::to_string(names.size())).first;
          o += it->second;
        } else {
          o += word;
        }
        i = j;
        continue;
      }
      o += c;
      ++i;
    }
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

// Matches one canonical line against one canonical pattern line.
bool MatchLine(const std::string& line, const std::string& pattern,
               std::vector<std::string>* captures) {
  // Split the pattern at its placeholders.
  std::vector<std::string> parts;
  std::vector<std::string> holes;
  size_t start = 0;
  while (true) {
    size_t a = pattern.find("{a}", start), l = pattern.find("{args}", start);
    size_t at = std::min(a, l);
    if (at == std::string::npos) break;
    parts.push_back(pattern.substr(start, at - start));
    holes.push_back(at == a ? "{a}" : "{args}");
    start = at + holes.back().size();
  }
  parts.push_back(pattern.substr(start));
  if (holes.empty()) return line == pattern;
  if (line.compare(0, parts[0].size(), parts[0]) != 0) return false;
  size_t pos = parts[0].size();
  for (size_t h = 0; h < holes.size(); ++h) {
    const std::string& next = parts[h + 1];
    size_t end;
    if (h + 1 == holes.size()) {
      if (line.size() < pos + next.size() ||
          line.compare(line.size() - next.size(), next.size(), next) != 0)
        return false;
      end = line.size() - next.size();
    } else {
      // The first `next` outside brackets and strings: a literal list holds
      // ", " too.
      end = std::string::npos;
      int depth = 0;
      bool in_string = false;
      for (size_t i = pos; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '"') in_string = !in_string;
        if (in_string) continue;
        if (c == '[') ++depth;
        if (c == ']') --depth;
        if (depth == 0 && line.compare(i, next.size(), next) == 0) {
          end = i;
          break;
        }
      }
      if (end == std::string::npos) return false;
    }
    const std::string text = line.substr(pos, end - pos);
    std::vector<Literal> lits;
    if (!ParseLiterals(text, &lits)) return false;
    if (holes[h] == "{a}" && (lits.size() != 1 || Trim(text) != text)) return false;
    captures->push_back(text);
    pos = end + next.size();
  }
  return true;
}

// Positions of whole-word `word` in `line`, outside string literals.
std::vector<size_t> WordAt(const std::string& line, const std::string& word) {
  std::vector<size_t> out;
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') in_string = !in_string;
    if (in_string || line.compare(i, word.size(), word) != 0) continue;
    const bool left = i == 0 || (!IsWordChar(line[i - 1]) && line[i - 1] != '.');
    const bool right = i + word.size() >= line.size() || !IsWordChar(line[i + word.size()]);
    if (left && right) out.push_back(i);
  }
  return out;
}

// True when `expr` has no space outside brackets and strings: a name, an
// attribute path or a call, which reads the same inlined anywhere.
bool IsAtom(const std::string& expr) {
  int depth = 0;
  bool in_string = false;
  for (char c : expr) {
    if (c == '"') in_string = !in_string;
    if (in_string) continue;
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (c == ' ' && depth == 0) return false;
  }
  return !expr.empty() && depth == 0 && !in_string;
}

}  // namespace

std::vector<std::string> InlineTemporaries(std::vector<std::string> lines) {
  // Where each temporary is used (one entry per use), and which line
  // defines one at the top level. Linear in the body's size: bodies come
  // from untrusted files.
  auto temps_in = [](const std::string& line, size_t from) {
    std::vector<std::string> out;
    bool in_string = false;
    for (size_t i = from; i < line.size(); ++i) {
      if (line[i] == '"') in_string = !in_string;
      if (in_string || line[i] != '_' || (i > 0 && (IsWordChar(line[i - 1]) || line[i - 1] == '.')))
        continue;
      size_t j = i + 1;
      while (j < line.size() && IsDigit(line[j])) ++j;
      if (j == i + 1 || (j < line.size() && IsWordChar(line[j]))) continue;
      out.push_back(line.substr(i, j - i));
      i = j - 1;
    }
    return out;
  };
  const size_t n = lines.size();
  std::map<std::string, std::vector<size_t>> uses;
  std::vector<std::string> defines(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& line = lines[i];
    size_t j = 0;
    if (line.size() > 1 && line[0] == '_' && IsDigit(line[1])) {
      j = 1;
      while (j < line.size() && IsDigit(line[j])) ++j;
      if (line.compare(j, 3, " = ") == 0) {
        defines[i] = line.substr(0, j);
        j += 3;
      } else {
        j = 0;
      }
    }
    for (auto& t : temps_in(line, j)) uses[t].push_back(i);
  }
  std::vector<bool> erased(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (defines[i].empty()) continue;
    const std::string& temp = defines[i];
    const std::string expr = lines[i].substr(temp.size() + 3);
    const std::vector<size_t>& u = uses[temp];
    if (!IsAtom(expr) || u.size() != 1 || u[0] <= i || erased[u[0]] || lines[u[0]].empty() ||
        lines[u[0]][0] == ' ')
      continue;
    const size_t to = u[0];
    const std::vector<size_t> at = WordAt(lines[to], temp);
    if (at.size() != 1) continue;
    lines[to].replace(at[0], temp.size(), expr);
    for (const std::string& t : temps_in(expr, 0)) {
      auto& list = uses[t];
      auto it = std::find(list.begin(), list.end(), i);
      if (it != list.end()) *it = to;
    }
    erased[i] = true;
  }
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (!erased[i]) out.push_back(std::move(lines[i]));
  return out;
}

bool MatchBody(const std::vector<std::string>& body, const std::vector<std::string>& pattern,
               std::vector<std::string>* captures) {
  // The printer adds at most a temporary or so per line.
  if (body.size() > 2 * pattern.size() + 8) return false;
  for (const auto& l : body)
    if (l.size() > 2000) return false;
  const std::vector<std::string> b = Canonicalize(InlineTemporaries(body));
  const std::vector<std::string> p = Canonicalize(InlineTemporaries(pattern));
  if (b.size() != p.size()) return false;
  for (size_t i = 0; i < b.size(); ++i)
    if (!MatchLine(b[i], p[i], captures)) return false;
  return true;
}

Result<std::string> SourceReader::File(const std::string& module_path) {
  auto it = files_.find(module_path);
  if (it != files_.end()) return it->second;
  std::string rel = module_path;
  for (char& c : rel)
    if (c == '.') c = '/';
  const std::string entry = record_ + "/code/" + rel + ".py";
  if (!zip_->Has(entry)) return NotSupported("the archive has no source " + entry);
  TIFFIN_ASSIGN_OR_RETURN(std::string text, zip_->Read(entry, size_t{16} << 20));
  return files_.emplace(module_path, std::move(text)).first->second;
}

Result<std::vector<std::string>> SourceReader::Method(const std::string& cls,
                                                      const std::string& method,
                                                      std::string* signature) {
  const size_t dot = cls.rfind('.');
  if (dot == std::string::npos) return NotSupported("class " + cls + " has no module");
  TIFFIN_ASSIGN_OR_RETURN(std::string text, File(cls.substr(0, dot)));
  const std::vector<std::string> lines = Lines(text);
  const std::string head = "class " + cls.substr(dot + 1) + "(Module):";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (Trim(lines[i]) != head || Indent(lines[i]) != 0) continue;
    size_t end = i + 1;
    while (end < lines.size() && (Trim(lines[end]).empty() || lines[end][0] == ' ')) ++end;
    auto body = FunctionBody(lines, i + 1, end, 2, method, signature);
    if (!body.ok()) return NotSupported("class " + cls + " has no method '" + method + "'");
    return body;
  }
  return NotSupported("the source of " + cls + " has no '" + head + "'");
}

Result<std::vector<std::string>> SourceReader::Function(const std::string& module_path,
                                                        const std::string& fn,
                                                        std::string* signature) {
  TIFFIN_ASSIGN_OR_RETURN(std::string text, File(module_path));
  const std::vector<std::string> lines = Lines(text);
  return FunctionBody(lines, 0, lines.size(), 0, fn, signature);
}

namespace {

struct KnownFunction {
  const char* name;
  const char* signature;
  std::vector<std::string> body;
};

const std::vector<KnownFunction>& KnownFunctions() {
  static const std::vector<KnownFunction> kFunctions = {
#include "importers/torch/torchscript_functional.inc"
  };
  return kFunctions;
}

constexpr std::string_view kFunctional = "__torch__.torch.nn.functional.";

}  // namespace

std::vector<std::string> FunctionalCalls(const std::vector<std::string>& body) {
  std::vector<std::string> out;
  for (const auto& line : body) {
    size_t at = 0;
    while ((at = line.find(kFunctional, at)) != std::string::npos) {
      at += kFunctional.size();
      size_t end = at;
      while (end < line.size() && IsWordChar(line[end])) ++end;
      out.push_back(line.substr(at, end - at));
      at = end;
    }
  }
  return out;
}

Status CheckFunctional(SourceReader* src, const std::string& fn,
                       std::map<std::string, bool>* checked) {
  auto done = checked->find(fn);
  if (done != checked->end()) {
    return done->second ? Status::Ok()
                        : NotSupported("its torch.nn.functional." + fn + " is not torch's own");
  }
  (*checked)[fn] = true;  // cycles end here; set false below on mismatch
  const KnownFunction* known = nullptr;
  for (const auto& k : KnownFunctions())
    if (fn == k.name) known = &k;
  std::string sig;
  auto body = src->Function("__torch__.torch.nn.functional", fn, &sig);
  std::vector<std::string> captures;
  if (known == nullptr || !body.ok() || sig != known->signature ||
      !MatchBody(*body, known->body, &captures) || !captures.empty()) {
    (*checked)[fn] = false;
    return NotSupported("its torch.nn.functional." + fn + " is not torch's own");
  }
  for (const std::string& callee : FunctionalCalls(*body))
    TIFFIN_RETURN_IF_ERROR(CheckFunctional(src, callee, checked));
  return Status::Ok();
}

}  // namespace tiffin::torch_import
