#include "hw/gpu_spec.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace ak::hw {
namespace {

// ---------------------------------------------------------------------------------------------
// The table. Numbers are datasheet, dense (sparsity halved away), fp16/bf16/fp8 with fp32 accumulate.
// Sources: NVIDIA H100/H200/H20/GH200/A100/L40S/L40/L4/A10 datasheets, the Ada (AD102) and Ampere
// (GA102) whitepapers for GeForce parts, the HGX B200 datasheet (8-GPU totals / 8), AMD Instinct
// MI300X/MI325X/MI350X/MI355X datasheets. A10G (AWS-only) from AWS G5 / vendor spec sheets:
// 80 SMs at 1710 MHz, GeForce-like half-rate fp32-accumulate tensor path (70 TF) and 35 TF fp32.
//
// Parts without fp8 units (Ampere) carry the fp16 rate in tflops_fp8; parts without tf32 units
// (MI350X/MI355X: CDNA4 dropped xf32) carry the fp32 rate in tflops_tf32. See has_native_fp8().
// ---------------------------------------------------------------------------------------------

struct Entry {
  GpuSpec spec;
  // Matching metadata (not part of GpuSpec).
  std::string_view model;     ///< the whole name token that identifies the family ("h100", "4090")
  std::string_view family;    ///< a token that must also appear ("rtx" for GeForce numbers), or ""
  std::string_view form;      ///< "sxm" | "pcie" | "nvl" | ""
  std::string_view mem_type;  ///< "hbm2" | "hbm2e" | "hbm3" | "hbm3e" | "gddr6" | "gddr6x"
  double name_mem_gb = 0;     ///< memory figure the device name may carry when it differs (GH200 "480GB")
  double clock_mhz = 0;       ///< peak engine clock, used to tell apart same-arch AMD parts
};

GpuSpec make(std::string name, std::string vendor, int sms, double mem, double bw, double l2, double fp16, double bf16,
             double tf32, double fp8, double fp32, std::string cc) {
  GpuSpec s;
  s.name = std::move(name);
  s.vendor = std::move(vendor);
  s.sm_count = sms;
  s.memory_gb = mem;
  s.bandwidth_gb_s = bw;
  s.l2_mb = l2;
  s.tflops_fp16 = fp16;
  s.tflops_bf16 = bf16;
  s.tflops_tf32 = tf32;
  s.tflops_fp8 = fp8;
  s.tflops_fp32 = fp32;
  s.compute_capability = std::move(cc);
  return s;
}

const std::vector<Entry>& entries() {
  // Order matters only for ties: the first of equally good candidates wins (so the commonest
  // variant of a family comes first: H100 SXM, H200 SXM, A100 SXM4, MI300X, MI355X).
  static const std::vector<Entry> table = {
      //   name                         vendor   SMs  mem    GB/s    L2   fp16     bf16     tf32    fp8      fp32   cc
      {make("NVIDIA H100 SXM5 80GB", "nvidia", 132, 80, 3352, 50, 989.4, 989.4, 494.7, 1978.9, 66.9, "9.0"), "h100", "",
       "sxm", "hbm3"},
      {make("NVIDIA H100 PCIe 80GB", "nvidia", 114, 80, 2039, 50, 756.5, 756.5, 378.0, 1513.0, 51.2, "9.0"), "h100", "",
       "pcie", "hbm2e"},
      {make("NVIDIA H100 NVL 94GB", "nvidia", 132, 94, 3938, 50, 835.5, 835.5, 417.5, 1670.5, 60.0, "9.0"), "h100", "",
       "nvl", "hbm3"},
      {make("NVIDIA H200 SXM 141GB", "nvidia", 132, 141, 4800, 50, 989.4, 989.4, 494.7, 1978.9, 66.9, "9.0"), "h200",
       "", "sxm", "hbm3e"},
      // H200 NVL: 600 W part, lower clocks; same compute as H100 NVL.
      {make("NVIDIA H200 NVL 141GB", "nvidia", 132, 141, 4800, 50, 835.5, 835.5, 417.5, 1670.5, 60.0, "9.0"), "h200",
       "", "nvl", "hbm3e"},
      {make("NVIDIA H20 96GB", "nvidia", 78, 96, 4000, 60, 148.0, 148.0, 74.0, 296.0, 44.0, "9.0"), "h20", "", "",
       "hbm3"},
      // GH200: the device name carries the superchip total ("GH200 480GB" = 96 GB HBM3 + 480 GB LPDDR5X).
      {make("NVIDIA GH200 96GB HBM3", "nvidia", 132, 96, 4000, 50, 989.4, 989.4, 494.7, 1978.9, 66.9, "9.0"), "gh200",
       "", "", "hbm3", 480},
      {make("NVIDIA GH200 144GB HBM3e", "nvidia", 132, 144, 4900, 50, 989.4, 989.4, 494.7, 1978.9, 66.9, "9.0"),
       "gh200", "", "", "hbm3e", 144},
      {make("NVIDIA A100 SXM4 40GB", "nvidia", 108, 40, 1555, 40, 312, 312, 156, 312, 19.5, "8.0"), "a100", "", "sxm",
       "hbm2"},
      {make("NVIDIA A100 SXM4 80GB", "nvidia", 108, 80, 2039, 40, 312, 312, 156, 312, 19.5, "8.0"), "a100", "", "sxm",
       "hbm2e"},
      {make("NVIDIA A100 PCIe 40GB", "nvidia", 108, 40, 1555, 40, 312, 312, 156, 312, 19.5, "8.0"), "a100", "", "pcie",
       "hbm2"},
      {make("NVIDIA A100 PCIe 80GB", "nvidia", 108, 80, 1935, 40, 312, 312, 156, 312, 19.5, "8.0"), "a100", "", "pcie",
       "hbm2e"},
      {make("NVIDIA L40S", "nvidia", 142, 48, 864, 96, 362.05, 362.05, 183.0, 733.0, 91.6, "8.9"), "l40s", "", "",
       "gddr6"},
      // L40 (not L40S): half-rate fp32-accumulate tensor path, 181 TF fp16.
      {make("NVIDIA L40", "nvidia", 142, 48, 864, 96, 181.05, 181.05, 90.5, 362.0, 90.5, "8.9"), "l40", "", "",
       "gddr6"},
      {make("NVIDIA L4", "nvidia", 58, 24, 300, 48, 121.0, 121.0, 60.0, 242.5, 30.3, "8.9"), "l4", "", "", "gddr6"},
      {make("NVIDIA A10", "nvidia", 72, 24, 600, 6, 125.0, 125.0, 62.5, 125.0, 31.2, "8.6"), "a10", "", "", "gddr6"},
      {make("NVIDIA A10G", "nvidia", 80, 24, 600, 6, 70.0, 70.0, 35.0, 70.0, 35.0, "8.6"), "a10g", "", "", "gddr6"},
      // GeForce: fp32-accumulate rates (half the "fp16 accumulate" headline), Ada whitepaper appendix.
      {make("NVIDIA GeForce RTX 4090", "nvidia", 128, 24, 1008, 72, 165.2, 165.2, 82.6, 330.3, 82.6, "8.9"), "4090",
       "rtx", "", "gddr6x"},
      {make("NVIDIA GeForce RTX 4080", "nvidia", 76, 16, 716.8, 64, 97.5, 97.5, 48.7, 194.9, 48.7, "8.9"), "4080",
       "rtx", "", "gddr6x"},
      {make("NVIDIA GeForce RTX 3090", "nvidia", 82, 24, 936, 6, 71.2, 71.2, 35.6, 71.2, 35.6, "8.6"), "3090", "rtx",
       "", "gddr6x"},
      {make("NVIDIA GeForce RTX 3080 10GB", "nvidia", 68, 10, 760, 5, 59.5, 59.5, 29.8, 59.5, 29.8, "8.6"), "3080",
       "rtx", "", "gddr6x"},
      {make("NVIDIA GeForce RTX 3080 12GB", "nvidia", 70, 12, 912, 6, 61.3, 61.3, 30.6, 61.3, 30.6, "8.6"), "3080",
       "rtx", "", "gddr6x"},
      // B200 (HGX, 1000 W): HGX B200 totals / 8. 180 GB usable HBM3e (the 192 GB of early material is raw).
      {make("NVIDIA B200", "nvidia", 148, 180, 8000, 126, 2250, 2250, 1125, 4500, 75.0, "10.0"), "b200", "", "",
       "hbm3e"},
      // AMD: fp32 is the datasheet "FP32 vector" peak (dual-issue/packed included, as AMD quotes it).
      {make("AMD Instinct MI300X", "amd", 304, 192, 5300, 256, 1307.4, 1307.4, 653.7, 2614.9, 163.4, "gfx942"),
       "mi300x", "", "", "hbm3", 0, 2100},
      {make("AMD Instinct MI325X", "amd", 304, 256, 6000, 256, 1307.4, 1307.4, 653.7, 2614.9, 163.4, "gfx942"),
       "mi325x", "", "", "hbm3e", 0, 2100},
      // CDNA4 has no xf32/tf32 MFMA: tf32 holds the fp32 rate.
      {make("AMD Instinct MI355X", "amd", 256, 288, 8000, 256, 2516.6, 2516.6, 157.3, 5033.2, 157.3, "gfx950"),
       "mi355x", "", "", "hbm3e", 0, 2400},
      {make("AMD Instinct MI350X", "amd", 256, 288, 8000, 256, 2306.9, 2306.9, 144.2, 4613.8, 144.2, "gfx950"),
       "mi350x", "", "", "hbm3e", 0, 2200},
  };
  return table;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has_token(const std::vector<std::string>& toks, std::string_view t) {
  return std::find(toks.begin(), toks.end(), t) != toks.end();
}

/// "80gb", "141gb", "144g", "480gb" -> 80, 141, 144, 480; else 0.
double mem_token_gb(const std::string& t) {
  std::size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i == 0 || i > 4) return 0;
  const std::string rest = t.substr(i);
  if (rest != "gb" && rest != "g") return 0;
  return std::stod(t.substr(0, i));
}

/// Relative distance between a nominal size and a reported one, accepting GB (1e9) or GiB (2^30).
double mem_distance(double nominal, double reported) {
  if (nominal <= 0 || reported <= 0) return std::numeric_limits<double>::infinity();
  const double as_gib = reported * 1e9 / double(1ull << 30);
  return std::min(std::abs(reported - nominal), std::abs(as_gib - nominal)) / nominal;
}

constexpr double kMemTol = 0.10;  // reported vs nominal memory: 10% covers ECC/reserved carve-outs

std::string arch_base(std::string_view gcn_arch) {
  std::string a = lower(gcn_arch);
  if (auto c = a.find(':'); c != std::string::npos) a.resize(c);
  return a;
}

std::string cc_string(int major, int minor) { return std::to_string(major) + "." + std::to_string(minor); }

// Tokens that turn a known model into a different part: "RTX 3080 Ti", "RTX 4080 SUPER",
// "RTX 4090 D", "RTX 4090 Laptop GPU", "Max-Q". Such names are not in the table -> nullopt.
constexpr std::string_view kVariantTokens[] = {"ti", "super", "laptop", "mobile", "max", "q", "maxq", "d"};

/// Score candidates of one family and return the best (first wins ties). Weights, strongest first:
/// form factor in the name (8) > memory size in the name (4) = memory type in the name (4)
/// > SM count (3) > reported memory size (2, only the closest candidates).
const Entry* pick_best(const std::vector<const Entry*>& cands, const std::vector<std::string>& toks,
                       const DeviceProps& p) {
  if (cands.empty()) return nullptr;

  std::string form;
  double name_mem = 0;
  std::string mem_type;
  for (const auto& t : toks) {
    if (t.rfind("sxm", 0) == 0 || t == "hgx")
      form = "sxm";
    else if (t == "pcie")
      form = "pcie";
    else if (t == "nvl")
      form = "nvl";
    else if (t == "hbm2" || t == "hbm2e" || t == "hbm3" || t == "hbm3e")
      mem_type = t;
    else if (double g = mem_token_gb(t); g > 0)
      name_mem = g;
  }

  double best_mem = std::numeric_limits<double>::infinity();
  for (const Entry* e : cands) best_mem = std::min(best_mem, mem_distance(e->spec.memory_gb, p.total_memory_gb));

  const Entry* best = nullptr;
  int best_score = std::numeric_limits<int>::min();
  for (const Entry* e : cands) {
    int score = 0;
    if (!form.empty()) score += (e->form == form) ? 8 : -8;
    if (name_mem > 0) {
      const bool ok = std::abs(name_mem - e->spec.memory_gb) <= 0.5 || std::abs(name_mem - e->name_mem_gb) <= 0.5;
      score += ok ? 4 : -4;
    }
    if (!mem_type.empty()) score += (e->mem_type == mem_type) ? 4 : -4;
    if (p.sm_count > 0) score += (e->spec.sm_count == p.sm_count) ? 3 : -3;
    if (p.total_memory_gb > 0) {
      const double d = mem_distance(e->spec.memory_gb, p.total_memory_gb);
      if (d > kMemTol)
        score -= 2;
      else if (d <= best_mem + 0.02)
        score += 2;
    }
    if (score > best_score) {
      best_score = score;
      best = e;
    }
  }
  return best;
}

/// AMD device without a usable name: gfx arch, then CU count (must agree when known: MI300A is
/// gfx942 with 228 CUs, MI308X gfx942 with 80 — neither is in the table), memory size, clock.
///
/// gfx942: MI300X (192 GB) vs MI325X (256 GB) by memory; unknown memory -> MI300X.
/// gfx950: MI350X and MI355X are the same silicon (256 CUs, 288 GB) and differ only in clock/power:
///   max engine clock >= 2300 MHz -> MI355X (2400 MHz), below -> MI350X (2200 MHz). Unknown clock ->
///   MI355X, the part most clouds deploy; its peaks are ~9% above MI350X's.
std::optional<GpuSpec> match_by_arch(const DeviceProps& p) {
  const std::string arch = arch_base(p.gcn_arch);
  std::vector<const Entry*> cands;
  for (const auto& e : entries()) {
    if (e.spec.vendor != "amd" || e.spec.compute_capability != arch) continue;
    if (p.sm_count > 0 && e.spec.sm_count != p.sm_count) continue;
    cands.push_back(&e);
  }
  if (cands.empty()) return std::nullopt;

  double best_mem = std::numeric_limits<double>::infinity();
  for (const Entry* e : cands) best_mem = std::min(best_mem, mem_distance(e->spec.memory_gb, p.total_memory_gb));
  double best_clk = std::numeric_limits<double>::infinity();
  if (p.sm_clock_mhz > 0)
    for (const Entry* e : cands) best_clk = std::min(best_clk, std::abs(e->clock_mhz - p.sm_clock_mhz));

  const Entry* best = nullptr;
  int best_score = std::numeric_limits<int>::min();
  for (const Entry* e : cands) {
    int score = 0;
    if (p.total_memory_gb > 0) {
      const double d = mem_distance(e->spec.memory_gb, p.total_memory_gb);
      if (d > kMemTol)
        score -= 4;
      else if (d <= best_mem + 0.02)
        score += 4;
    }
    // Nearest clock; the midpoint rule (2300 MHz for gfx950) falls out of "nearest".
    if (p.sm_clock_mhz > 0 && std::abs(e->clock_mhz - p.sm_clock_mhz) <= best_clk + 1e-9) score += 2;
    if (score > best_score) {
      best_score = score;
      best = e;
    }
  }
  return best->spec;
}

// ---------------------------------------------------------------------------------------------
// Estimation constants.
// ---------------------------------------------------------------------------------------------

/// Dense fp16-input, fp32-accumulate tensor-core FLOP per clock per SM, from datasheet peak /
/// (SMs x boost clock):
///   sm_70/72 V100:  125 TF / (80 x 1.53 GHz)     = 1021 -> 1024
///   sm_75    T4:    65 TF / (40 x 1.59 GHz)      = 1022 -> 1024   (GeForce Turing: half, 512)
///   sm_80    A100:  312 TF / (108 x 1.41 GHz)    = 2049 -> 2048
///   sm_86/89 A10:   125 TF / (72 x 1.695 GHz)    = 1024; L4 121 / (58 x 2.04) = 1023; L40S 1024
///            GeForce halves fp32-accumulate: RTX 3090 71 / (82 x 1.695) = 511, RTX 4090 165.2 /
///            (128 x 2.52) = 512 -> 512 for "GeForce" names, 1024 otherwise
///   sm_87    Orin: treated like sm_86 datacenter (1024)
///   sm_90    H100:  989.4 TF / (132 x 1.83 GHz)  = 4096  (1.83 GHz is the tensor boost; the reported
///            max clock 1.98 GHz overestimates by ~8%)
///   sm_100   B200:  2250 TF / (148 x 1.86 GHz)   = 8173 -> 8192
///   sm_120   RTX 5090: 209.5 TF / (170 x 2.41 GHz) = 511 -> like Ada: 512 GeForce, 1024 otherwise
/// Unknown newer capabilities fall back to the nearest lower known one.
double nv_tensor_flop_per_clk_sm(int major, int minor, bool geforce) {
  const int cc = major * 10 + minor;
  if (cc >= 120) return geforce ? 512 : 1024;
  if (cc >= 100) return 8192;
  if (cc >= 90) return 4096;
  if (cc >= 86) return geforce ? 512 : 1024;
  if (cc >= 80) return 2048;
  if (cc >= 75) return geforce ? 512 : 1024;
  if (cc >= 70) return 1024;
  return 0;  // no tensor cores (Pascal and older, or unknown capability)
}

/// FP32 FMA lanes per SM (x2 FLOP per FMA): 64 on Volta/Turing/GA100 (A100 19.5 TF = 108 x 64 x 2 x
/// 1.41 GHz), 128 from GA10x on (RTX 4090 82.6 TF = 128 x 128 x 2 x 2.52 GHz; H100 66.9 = 132 x 128
/// x 2 x 1.98). Pre-Volta: 64 (conservative; GP102 has 128).
double nv_fp32_lanes_per_sm(int major, int minor) {
  const int cc = major * 10 + minor;
  return cc >= 86 ? 128 : 64;
}

struct AmdRates {
  double fp16, bf16, tf32, fp8, fp32;  // FLOP/clk/CU; 0 = no native unit
};

/// Dense matrix FLOP/clk/CU and vector fp32 FLOP/clk/CU, from datasheet peak / (CUs x peak clock):
///   gfx908 MI100:   fp16 184.6 TF / (120 x 1.502 GHz) = 1024, bf16 92.3 -> 512, fp32 23.1 -> 128
///   gfx90a MI250X:  fp16/bf16 383 TF / (220 x 1.7 GHz) = 1024, fp32 vector 47.9 -> 128
///   gfx94x MI300X:  fp16 1307.4 / (304 x 2.1) = 2048, tf32 1024, fp8 4096, fp32 vector 163.4 -> 256
///   gfx950 MI355X:  fp16 2516.6 / (256 x 2.4) = 4096, fp8 8192, fp32 157.3 -> 256, no tf32
///   gfx11 RX 7900 XTX: fp16 WMMA 122.8 / (96 x 2.5) = 512, fp32 (dual issue) 61.4 -> 256
///   gfx12 RX 9070 XT:  fp16 195 / (64 x 2.97) = 1024, fp8 2048, fp32 48.7 -> 256
///   anything else: fp16 512, fp32 128 (conservative)
AmdRates amd_rates(const std::string& arch) {
  auto starts = [&](std::string_view pre) { return arch.rfind(pre, 0) == 0; };
  if (arch == "gfx908") return {1024, 512, 0, 0, 128};
  if (arch == "gfx90a") return {1024, 1024, 0, 0, 128};
  if (arch == "gfx940" || arch == "gfx941" || arch == "gfx942") return {2048, 2048, 1024, 4096, 256};
  if (arch == "gfx950") return {4096, 4096, 0, 8192, 256};
  if (starts("gfx12")) return {1024, 1024, 0, 2048, 256};
  if (starts("gfx11")) return {512, 512, 0, 0, 256};
  return {512, 512, 0, 0, 128};
}

/// Conservative bandwidth when clocks/bus are unknown: 12.5 GB/s per GB of memory — the lowest
/// bandwidth-to-capacity ratio in the table (L4: 300 GB/s / 24 GB), floored at 50 GB/s.
double bandwidth_from_memory(double mem_gb) { return std::max(50.0, 12.5 * mem_gb); }

/// Default SM clock when the device does not report one: 1400 MHz, about the lowest boost clock of
/// recent datacenter parts (A100 1410 MHz), so the estimate errs low.
constexpr double kDefaultClockMhz = 1400;

/// L2 when unknown: 4 MB (T4's, the smallest of recent datacenter parts).
constexpr double kDefaultL2Mb = 4;

std::string normalize_dtype(std::string_view dtype) {
  std::string d = lower(dtype);
  if (d.rfind("torch.", 0) == 0) d.erase(0, 6);
  return d;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::vector<std::string> tokenize_gpu_name(std::string_view name) {
  std::vector<std::string> toks;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) toks.push_back(lower(cur));
    cur.clear();
  };
  for (char c : name) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '/' || c == ',' || c == '(' ||
        c == ')' || c == ':')
      flush();
    else
      cur.push_back(c);
  }
  flush();
  return toks;
}

const std::vector<GpuSpec>& known_gpus() {
  static const std::vector<GpuSpec> specs = [] {
    std::vector<GpuSpec> v;
    for (const auto& e : entries()) v.push_back(e.spec);
    return v;
  }();
  return specs;
}

std::optional<GpuSpec> match_known(const DeviceProps& p) {
  const auto toks = tokenize_gpu_name(p.name);
  const std::string arch = arch_base(p.gcn_arch);

  // The family: the first name token that is some entry's model token (whole-token compare, so
  // "a10" never matches "a100", "l4" never "l40"/"l40s", "h20" never "h200").
  std::string_view model;
  for (const auto& t : toks) {
    for (const auto& e : entries()) {
      if (e.model == t && (e.family.empty() || has_token(toks, e.family))) {
        model = e.model;
        break;
      }
    }
    if (!model.empty()) break;
  }

  if (model.empty()) {
    // Some ROCm stacks report an empty or generic name ("", "AMD Radeon Graphics"); identify those by
    // arch instead. A name that does carry an Instinct model token we do not know ("MI308X") is a
    // different part, even when it shares an arch with a known one.
    const bool names_other_instinct = std::any_of(toks.begin(), toks.end(), [](const std::string& t) {
      return t.size() > 2 && t[0] == 'm' && t[1] == 'i' && std::isdigit(static_cast<unsigned char>(t[2]));
    });
    if (!arch.empty() && !names_other_instinct) return match_by_arch(p);
    return std::nullopt;
  }

  for (const auto& v : kVariantTokens)
    if (has_token(toks, v)) return std::nullopt;  // "RTX 3080 Ti" is not an "RTX 3080"

  std::vector<const Entry*> cands;
  for (const auto& e : entries()) {
    if (e.model != model) continue;
    // The reported architecture must agree with the entry's.
    if (e.spec.vendor == "nvidia" && p.cc_major > 0 && e.spec.compute_capability != cc_string(p.cc_major, p.cc_minor))
      continue;
    if (e.spec.vendor == "amd" && !arch.empty() && e.spec.compute_capability != arch) continue;
    cands.push_back(&e);
  }
  const Entry* best = pick_best(cands, toks, p);
  if (!best) return std::nullopt;
  return best->spec;
}

GpuSpec estimate_spec(const DeviceProps& p) {
  GpuSpec s;
  s.estimated = true;
  const auto toks = tokenize_gpu_name(p.name);
  const std::string arch = arch_base(p.gcn_arch);
  const bool amd = !arch.empty() || has_token(toks, "amd") || has_token(toks, "radeon") || has_token(toks, "instinct");
  s.vendor = amd ? "amd" : "nvidia";
  s.sm_count = p.sm_count;
  s.memory_gb = p.total_memory_gb;
  s.l2_mb = p.l2_mb > 0 ? p.l2_mb : kDefaultL2Mb;

  const double clock_ghz = (p.sm_clock_mhz > 0 ? p.sm_clock_mhz : kDefaultClockMhz) / 1000.0;
  // TFLOP/s = units x GHz x FLOP/clk/unit / 1000.
  auto tf = [&](double flop_per_clk) { return p.sm_count * clock_ghz * flop_per_clk / 1000.0; };

  // Bandwidth = memory clock [MHz] x data rate x bus width [bit] / 8 -> MB/s, / 1000 -> GB/s.
  // cudaDeviceProp::memoryClockRate is half the effective per-pin rate for both HBM and GDDR6X
  // (H100: 2619 MHz x 2 x 5120 / 8 = 3352 GB/s; A100 40GB: 1215 x 2 x 5120 / 8 = 1555;
  // RTX 4090: 10501 x 2 x 384 / 8 = 1008), hence x2. ROCm reports the HBM3/HBM3E clock of gfx94x/
  // gfx95x at a quarter of the pin rate (MI300X: 1300 MHz x 4 x 8192 / 8 = 5325 ~ 5300 GB/s), hence
  // x4 there; older AMD (MI250X: 1600 x 2 x 8192 / 8 = 3277) is x2.
  double data_rate = 2;
  if (amd && (arch.rfind("gfx94", 0) == 0 || arch.rfind("gfx95", 0) == 0)) data_rate = 4;
  if (p.mem_clock_mhz > 0 && p.mem_bus_width_bits > 0)
    s.bandwidth_gb_s = p.mem_clock_mhz * data_rate * p.mem_bus_width_bits / 8.0 / 1000.0;
  else
    s.bandwidth_gb_s = bandwidth_from_memory(p.total_memory_gb);

  if (amd) {
    s.compute_capability = arch.empty() ? "unknown" : arch;
    s.name = !p.name.empty() ? p.name : "Unknown AMD GPU (" + s.compute_capability + ")";
    const AmdRates r = amd_rates(arch);
    s.tflops_fp32 = tf(r.fp32);
    s.tflops_fp16 = tf(r.fp16);
    s.tflops_bf16 = tf(r.bf16);
    s.tflops_tf32 = r.tf32 > 0 ? tf(r.tf32) : s.tflops_fp32;  // no xf32 unit: runs as fp32
    s.tflops_fp8 = r.fp8 > 0 ? tf(r.fp8) : s.tflops_fp16;     // no fp8 unit: upcast to fp16
    return s;
  }

  s.compute_capability = p.cc_major > 0 ? cc_string(p.cc_major, p.cc_minor) : "unknown";
  s.name = !p.name.empty() ? p.name : "Unknown NVIDIA GPU (sm_" + std::to_string(p.cc_major * 10 + p.cc_minor) + ")";
  const bool geforce = has_token(toks, "geforce");
  const int cc = p.cc_major * 10 + p.cc_minor;
  s.tflops_fp32 = tf(2.0 * nv_fp32_lanes_per_sm(p.cc_major, p.cc_minor));
  const double tensor = nv_tensor_flop_per_clk_sm(p.cc_major, p.cc_minor, geforce);
  s.tflops_fp16 = tensor > 0 ? tf(tensor) : s.tflops_fp32;
  // bf16 and tf32 tensor paths exist from sm_80 on: bf16 at the fp16 rate, tf32 at half of it
  // (A100 156 = 312 / 2, H100 494.7 = 989.4 / 2, RTX 4090 82.6 = 165.2 / 2). Before: fp32 SIMT.
  s.tflops_bf16 = cc >= 80 ? s.tflops_fp16 : s.tflops_fp32;
  s.tflops_tf32 = cc >= 80 ? s.tflops_fp16 / 2 : s.tflops_fp32;
  // fp8 tensor path from sm_89 on at twice the fp16 rate (H100 1978.9 = 2 x 989.4, RTX 4090 330.3 =
  // 2 x 165.2 with fp32 accumulate); before, fp8 operands are upcast and run at the fp16 rate.
  s.tflops_fp8 = cc >= 89 ? 2 * s.tflops_fp16 : s.tflops_fp16;
  return s;
}

GpuSpec spec_for(const DeviceProps& p) {
  if (auto m = match_known(p)) return *m;
  return estimate_spec(p);
}

double peak_tflops(const GpuSpec& s, std::string_view dtype) {
  const std::string d = normalize_dtype(dtype);
  if (d == "fp16" || d == "float16" || d == "half" || d == "f16") return s.tflops_fp16;
  if (d == "bf16" || d == "bfloat16") return s.tflops_bf16;
  if (d == "fp32" || d == "float32" || d == "float" || d == "f32") return s.tflops_fp32;
  if (d == "tf32" || d == "tensorfloat32") return s.tflops_tf32;
  if (d.rfind("fp8", 0) == 0 || d.rfind("float8", 0) == 0 || d == "e4m3" || d == "e5m2") return s.tflops_fp8;
  throw std::invalid_argument("peak_tflops: unknown dtype '" + std::string(dtype) + "'");
}

bool has_native_fp8(const GpuSpec& s) {
  const std::string& cc = s.compute_capability;
  if (s.vendor == "amd") return cc.rfind("gfx94", 0) == 0 || cc.rfind("gfx95", 0) == 0 || cc.rfind("gfx12", 0) == 0;
  const auto dot = cc.find('.');
  if (dot == std::string::npos) return false;
  try {
    const int v = std::stoi(cc.substr(0, dot)) * 10 + std::stoi(cc.substr(dot + 1));
    return v >= 89;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace ak::hw
