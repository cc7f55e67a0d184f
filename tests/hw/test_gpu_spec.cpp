#include "hw/gpu_spec.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

using ak::hw::DeviceProps;
using ak::hw::GpuSpec;

namespace {

DeviceProps nv(std::string name, int sms = 0, double mem_gb = 0, int ccmaj = 0, int ccmin = 0) {
  DeviceProps p;
  p.name = std::move(name);
  p.sm_count = sms;
  p.total_memory_gb = mem_gb;
  p.cc_major = ccmaj;
  p.cc_minor = ccmin;
  return p;
}

DeviceProps amd(std::string name, std::string arch, int cus = 0, double mem_gb = 0, double clock = 0) {
  DeviceProps p;
  p.name = std::move(name);
  p.gcn_arch = std::move(arch);
  p.sm_count = cus;
  p.total_memory_gb = mem_gb;
  p.sm_clock_mhz = clock;
  p.cc_major = 9;  // what HIP reports for gfx94x/gfx95x; must not be compared to "gfx942"
  p.cc_minor = 4;
  return p;
}

std::string matched(const DeviceProps& p) {
  auto m = ak::hw::match_known(p);
  return m ? m->name : std::string("<none>");
}

const GpuSpec& by_name(const std::string& name) {
  for (const auto& s : ak::hw::known_gpus())
    if (s.name == name) return s;
  throw std::runtime_error("no table entry " + name);
}

bool within(double got, double want, double rel) { return std::abs(got - want) <= rel * want; }

}  // namespace

// ---- the table --------------------------------------------------------------------------------

TEST(GpuSpec, EveryTableEntryHasAllFieldsPositive) {
  const auto& t = ak::hw::known_gpus();
  ASSERT_GE(t.size(), 25u);
  std::set<std::string> names;
  for (const auto& s : t) {
    SCOPED_TRACE(s.name);
    EXPECT_FALSE(s.name.empty());
    EXPECT_TRUE(s.vendor == "nvidia" || s.vendor == "amd");
    EXPECT_GT(s.sm_count, 0);
    EXPECT_GT(s.memory_gb, 0);
    EXPECT_GT(s.bandwidth_gb_s, 0);
    EXPECT_GT(s.l2_mb, 0);
    EXPECT_GT(s.tflops_fp16, 0);
    EXPECT_GT(s.tflops_bf16, 0);
    EXPECT_GT(s.tflops_tf32, 0);
    EXPECT_GT(s.tflops_fp8, 0);
    EXPECT_GT(s.tflops_fp32, 0);
    EXPECT_FALSE(s.compute_capability.empty());
    EXPECT_FALSE(s.estimated);
    // Sanity of the shape of the numbers: tensor paths beat or equal SIMT fp32, fp8 >= fp16.
    EXPECT_GE(s.tflops_fp16, s.tflops_fp32);
    EXPECT_GE(s.tflops_fp8, s.tflops_fp16);
    EXPECT_GE(s.tflops_tf32, s.tflops_fp32 * 0.99);
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate name";
  }
}

TEST(GpuSpec, TableHoldsEveryRequestedPart) {
  for (const char* n : {"NVIDIA H100 SXM5 80GB",
                        "NVIDIA H100 PCIe 80GB",
                        "NVIDIA H100 NVL 94GB",
                        "NVIDIA H200 SXM 141GB",
                        "NVIDIA H20 96GB",
                        "NVIDIA GH200 96GB HBM3",
                        "NVIDIA A100 SXM4 40GB",
                        "NVIDIA A100 SXM4 80GB",
                        "NVIDIA A100 PCIe 40GB",
                        "NVIDIA A100 PCIe 80GB",
                        "NVIDIA L40S",
                        "NVIDIA L40",
                        "NVIDIA L4",
                        "NVIDIA A10",
                        "NVIDIA A10G",
                        "NVIDIA GeForce RTX 4090",
                        "NVIDIA GeForce RTX 4080",
                        "NVIDIA GeForce RTX 3090",
                        "NVIDIA GeForce RTX 3080 10GB",
                        "NVIDIA B200",
                        "AMD Instinct MI300X",
                        "AMD Instinct MI325X",
                        "AMD Instinct MI350X",
                        "AMD Instinct MI355X"})
    EXPECT_NO_THROW(by_name(n)) << n;
}

TEST(GpuSpec, DatasheetNumbersForKeyParts) {
  const auto& h = by_name("NVIDIA H100 SXM5 80GB");
  EXPECT_EQ(h.sm_count, 132);
  EXPECT_DOUBLE_EQ(h.bandwidth_gb_s, 3352);
  EXPECT_DOUBLE_EQ(h.l2_mb, 50);
  EXPECT_DOUBLE_EQ(h.tflops_bf16, 989.4);
  EXPECT_DOUBLE_EQ(h.tflops_fp8, 1978.9);
  EXPECT_DOUBLE_EQ(h.tflops_tf32, 494.7);
  EXPECT_DOUBLE_EQ(h.tflops_fp32, 66.9);
  EXPECT_EQ(h.compute_capability, "9.0");

  const auto& pcie = by_name("NVIDIA H100 PCIe 80GB");
  EXPECT_EQ(pcie.sm_count, 114);
  EXPECT_DOUBLE_EQ(pcie.bandwidth_gb_s, 2039);
  EXPECT_NEAR(pcie.tflops_bf16, 756, 1);

  const auto& h200 = by_name("NVIDIA H200 SXM 141GB");
  EXPECT_DOUBLE_EQ(h200.bandwidth_gb_s, 4800);
  EXPECT_DOUBLE_EQ(h200.tflops_bf16, h.tflops_bf16);
  EXPECT_DOUBLE_EQ(h200.tflops_fp8, h.tflops_fp8);

  const auto& h20 = by_name("NVIDIA H20 96GB");
  EXPECT_EQ(h20.sm_count, 78);
  EXPECT_DOUBLE_EQ(h20.memory_gb, 96);
  EXPECT_DOUBLE_EQ(h20.bandwidth_gb_s, 4000);
  EXPECT_DOUBLE_EQ(h20.tflops_bf16, 148);

  EXPECT_DOUBLE_EQ(by_name("NVIDIA A100 SXM4 40GB").bandwidth_gb_s, 1555);
  EXPECT_DOUBLE_EQ(by_name("NVIDIA A100 SXM4 80GB").bandwidth_gb_s, 2039);
  for (const char* a :
       {"NVIDIA A100 SXM4 40GB", "NVIDIA A100 SXM4 80GB", "NVIDIA A100 PCIe 40GB", "NVIDIA A100 PCIe 80GB"}) {
    EXPECT_EQ(by_name(a).sm_count, 108) << a;
    EXPECT_DOUBLE_EQ(by_name(a).tflops_bf16, 312) << a;
    EXPECT_DOUBLE_EQ(by_name(a).l2_mb, 40) << a;
  }
  // L40 and L40S are different parts: L40S has the full-rate fp32-accumulate tensor path.
  EXPECT_NEAR(by_name("NVIDIA L40S").tflops_bf16, 2 * by_name("NVIDIA L40").tflops_bf16, 1);
}

TEST(GpuSpec, EveryTableEntryMatchesItselfFromItsOwnNameAndProps) {
  for (const auto& s : ak::hw::known_gpus()) {
    SCOPED_TRACE(s.name);
    DeviceProps p;
    p.name = s.name;
    p.sm_count = s.sm_count;
    p.total_memory_gb = s.memory_gb;
    if (s.vendor == "amd") {
      p.gcn_arch = s.compute_capability + ":sramecc+:xnack-";
    } else {
      p.cc_major = std::stoi(s.compute_capability);
      p.cc_minor = std::stoi(s.compute_capability.substr(s.compute_capability.find('.') + 1));
    }
    EXPECT_EQ(matched(p), s.name);
  }
}

// ---- NVIDIA Hopper ---------------------------------------------------------------------------

TEST(GpuSpec, MatchesH100SxmByItsHbm3Name) {
  EXPECT_EQ(matched(nv("NVIDIA H100 80GB HBM3")), "NVIDIA H100 SXM5 80GB");
  EXPECT_EQ(matched(nv("NVIDIA H100 80GB HBM3", 132, 79.2, 9, 0)), "NVIDIA H100 SXM5 80GB");
  EXPECT_EQ(matched(nv("NVIDIA H100 80GB HBM3", 132, 85.0, 9, 0)), "NVIDIA H100 SXM5 80GB");  // GB, not GiB
}

TEST(GpuSpec, MatchesH100PcieByNameAndBySmCount) {
  EXPECT_EQ(matched(nv("NVIDIA H100 PCIe")), "NVIDIA H100 PCIe 80GB");
  EXPECT_EQ(matched(nv("NVIDIA H100 PCIe", 114, 79.6, 9, 0)), "NVIDIA H100 PCIe 80GB");
  EXPECT_EQ(matched(nv("NVIDIA H100", 114, 79.6, 9, 0)), "NVIDIA H100 PCIe 80GB");
}

TEST(GpuSpec, MatchesH100NvlByNameAndByMemory) {
  EXPECT_EQ(matched(nv("NVIDIA H100 NVL")), "NVIDIA H100 NVL 94GB");
  EXPECT_EQ(matched(nv("NVIDIA H100 NVL", 132, 93.1, 9, 0)), "NVIDIA H100 NVL 94GB");
  EXPECT_EQ(matched(nv("NVIDIA H100", 132, 93.1, 9, 0)), "NVIDIA H100 NVL 94GB");
  EXPECT_EQ(matched(nv("NVIDIA H100", 132, 79.2, 9, 0)), "NVIDIA H100 SXM5 80GB");
}

TEST(GpuSpec, MatchesH200AndH200Nvl) {
  EXPECT_EQ(matched(nv("NVIDIA H200")), "NVIDIA H200 SXM 141GB");
  EXPECT_EQ(matched(nv("NVIDIA H200", 132, 139.8, 9, 0)), "NVIDIA H200 SXM 141GB");
  const auto nvl = ak::hw::match_known(nv("NVIDIA H200 NVL", 132, 139.8, 9, 0));
  ASSERT_TRUE(nvl);
  EXPECT_EQ(nvl->name, "NVIDIA H200 NVL 141GB");
  EXPECT_DOUBLE_EQ(nvl->memory_gb, 141);
  EXPECT_DOUBLE_EQ(nvl->bandwidth_gb_s, 4800);
}

TEST(GpuSpec, MatchesGh200ByItsSuperchipName) {
  EXPECT_EQ(matched(nv("NVIDIA GH200 480GB")), "NVIDIA GH200 96GB HBM3");
  EXPECT_EQ(matched(nv("NVIDIA GH200 480GB", 132, 94.5, 9, 0)), "NVIDIA GH200 96GB HBM3");
  EXPECT_EQ(matched(nv("NVIDIA GH200 144G HBM3e", 132, 142.0, 9, 0)), "NVIDIA GH200 144GB HBM3e");
}

TEST(GpuSpec, H20AndH200AreDifferentTokens) {
  EXPECT_EQ(matched(nv("NVIDIA H20", 78, 95.0, 9, 0)), "NVIDIA H20 96GB");
  EXPECT_EQ(matched(nv("NVIDIA H200", 132, 140.0, 9, 0)), "NVIDIA H200 SXM 141GB");
  EXPECT_EQ(matched(nv("NVIDIA H800", 132, 79.2, 9, 0)), "<none>");  // not a substring match of H80/H100
}

TEST(GpuSpec, RejectsNameWhoseComputeCapabilityDisagrees) {
  EXPECT_EQ(matched(nv("NVIDIA H100 80GB HBM3", 132, 79.2, 8, 0)), "<none>");
}

TEST(GpuSpec, MatchesB200) {
  EXPECT_EQ(matched(nv("NVIDIA B200", 148, 178.4, 10, 0)), "NVIDIA B200");
  EXPECT_EQ(matched(nv("NVIDIA B200")), "NVIDIA B200");
}

// ---- NVIDIA Ampere / Ada datacenter ----------------------------------------------------------

TEST(GpuSpec, MatchesA100VariantsByFormFactorAndMemory) {
  EXPECT_EQ(matched(nv("NVIDIA A100-SXM4-80GB", 108, 79.2, 8, 0)), "NVIDIA A100 SXM4 80GB");
  EXPECT_EQ(matched(nv("NVIDIA A100-SXM4-40GB", 108, 39.6, 8, 0)), "NVIDIA A100 SXM4 40GB");
  EXPECT_EQ(matched(nv("NVIDIA A100-PCIE-40GB", 108, 39.4, 8, 0)), "NVIDIA A100 PCIe 40GB");
  EXPECT_EQ(matched(nv("NVIDIA A100 80GB PCIe", 108, 79.2, 8, 0)), "NVIDIA A100 PCIe 80GB");
  // Memory in GB (1e9) rather than GiB must give the same answers.
  EXPECT_EQ(matched(nv("NVIDIA A100-SXM4-80GB", 108, 85.1, 8, 0)), "NVIDIA A100 SXM4 80GB");
  EXPECT_EQ(matched(nv("NVIDIA A100-PCIE-40GB", 108, 42.4, 8, 0)), "NVIDIA A100 PCIe 40GB");
  // Names without memory: the reported memory decides.
  EXPECT_EQ(matched(nv("NVIDIA A100-SXM4", 108, 39.6, 8, 0)), "NVIDIA A100 SXM4 40GB");
  EXPECT_EQ(matched(nv("NVIDIA A100-PCIE", 108, 79.2, 8, 0)), "NVIDIA A100 PCIe 80GB");
  // No form factor anywhere: first of the equally good (SXM4) with the right memory.
  EXPECT_EQ(matched(nv("NVIDIA A100", 108, 79.2, 8, 0)), "NVIDIA A100 SXM4 80GB");
}

TEST(GpuSpec, L40DoesNotMatchL4OrL40S) {
  EXPECT_EQ(matched(nv("NVIDIA L40", 142, 44.5, 8, 9)), "NVIDIA L40");
  EXPECT_EQ(matched(nv("NVIDIA L40")), "NVIDIA L40");
}

TEST(GpuSpec, MatchesL40SAndL4) {
  EXPECT_EQ(matched(nv("NVIDIA L40S", 142, 44.5, 8, 9)), "NVIDIA L40S");
  EXPECT_EQ(matched(nv("NVIDIA L4", 58, 22.0, 8, 9)), "NVIDIA L4");
  EXPECT_EQ(matched(nv("NVIDIA L4")), "NVIDIA L4");
}

TEST(GpuSpec, A10DoesNotMatchA100) {
  EXPECT_EQ(matched(nv("NVIDIA A10", 72, 22.0, 8, 6)), "NVIDIA A10");
  EXPECT_EQ(matched(nv("NVIDIA A10")), "NVIDIA A10");
  EXPECT_EQ(matched(nv("NVIDIA A100", 108, 39.6, 8, 0)), "NVIDIA A100 SXM4 40GB");
}

TEST(GpuSpec, MatchesA10G) {
  const auto m = ak::hw::match_known(nv("NVIDIA A10G", 80, 22.0, 8, 6));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "NVIDIA A10G");
  EXPECT_EQ(m->sm_count, 80);
}

// ---- GeForce ---------------------------------------------------------------------------------

TEST(GpuSpec, MatchesGeForceParts) {
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 4090", 128, 23.6, 8, 9)), "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 4080", 76, 15.6, 8, 9)), "NVIDIA GeForce RTX 4080");
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 3090", 82, 23.6, 8, 6)), "NVIDIA GeForce RTX 3090");
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 3080", 68, 9.8, 8, 6)), "NVIDIA GeForce RTX 3080 10GB");
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 3080", 70, 11.8, 8, 6)), "NVIDIA GeForce RTX 3080 12GB");
}

TEST(GpuSpec, Rtx3080TiIsNotA3080) {
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 3080 Ti", 80, 11.8, 8, 6)), "<none>");
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 4080 SUPER", 80, 15.6, 8, 9)), "<none>");
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 4090 Laptop GPU", 76, 15.6, 8, 9)), "<none>");
  EXPECT_EQ(matched(nv("NVIDIA GeForce RTX 4090 D", 114, 23.6, 8, 9)), "<none>");
}

// ---- AMD -------------------------------------------------------------------------------------

TEST(GpuSpec, MatchesAmdInstinctByName) {
  EXPECT_EQ(matched(amd("AMD Instinct MI300X", "gfx942:sramecc+:xnack-", 304, 191.98)), "AMD Instinct MI300X");
  EXPECT_EQ(matched(amd("AMD Instinct MI300X VF", "gfx942:sramecc+:xnack-", 304, 191.98)), "AMD Instinct MI300X");
  EXPECT_EQ(matched(amd("AMD Instinct MI325X", "gfx942:sramecc+:xnack-", 304, 255.98)), "AMD Instinct MI325X");
  EXPECT_EQ(matched(amd("AMD Instinct MI350X", "gfx950:sramecc+:xnack-", 256, 287.98)), "AMD Instinct MI350X");
  EXPECT_EQ(matched(amd("AMD Instinct MI355X", "gfx950:sramecc+:xnack-", 256, 287.98)), "AMD Instinct MI355X");
  EXPECT_EQ(matched(amd("AMD Instinct MI355X", "")), "AMD Instinct MI355X");
}

TEST(GpuSpec, MatchesAmdWithEmptyNameByGfxArch) {
  EXPECT_EQ(matched(amd("", "gfx942:sramecc+:xnack-", 304, 191.98)), "AMD Instinct MI300X");
  EXPECT_EQ(matched(amd("", "gfx942:sramecc+:xnack-", 304, 255.98)), "AMD Instinct MI325X");
  EXPECT_EQ(matched(amd("", "gfx942", 304)), "AMD Instinct MI300X");  // memory unknown -> MI300X
  EXPECT_EQ(matched(amd("AMD Radeon Graphics", "gfx942:sramecc+:xnack-", 304, 191.98)), "AMD Instinct MI300X");
  // A named Instinct model we do not know is not guessed from its arch.
  EXPECT_EQ(matched(amd("AMD Instinct MI308X", "gfx942:sramecc+:xnack-", 304, 191.98)), "<none>");
  // Same arch, other parts not in the table: MI300A (228 CUs), MI308X (80 CUs).
  EXPECT_EQ(matched(amd("", "gfx942:sramecc+:xnack-", 228, 128)), "<none>");
  EXPECT_EQ(matched(amd("", "gfx942:sramecc+:xnack-", 80, 191.98)), "<none>");
  // Arch not in the table at all.
  EXPECT_EQ(matched(amd("", "gfx90a:sramecc+:xnack-", 110, 64)), "<none>");
}

TEST(GpuSpec, Gfx950PicksMi355xOrMi350xByClock) {
  EXPECT_EQ(matched(amd("", "gfx950:sramecc+:xnack-", 256, 287.98, 2400)), "AMD Instinct MI355X");
  EXPECT_EQ(matched(amd("", "gfx950:sramecc+:xnack-", 256, 287.98, 2200)), "AMD Instinct MI350X");
  EXPECT_EQ(matched(amd("", "gfx950:sramecc+:xnack-", 256, 287.98, 0)), "AMD Instinct MI355X");
}

TEST(GpuSpec, AmdNameWithMismatchedArchIsRejected) {
  EXPECT_EQ(matched(amd("AMD Instinct MI300X", "gfx950", 304, 191.98)), "<none>");
}

// ---- unknown parts and tokenising ------------------------------------------------------------

TEST(GpuSpec, UnknownNamesGiveNullopt) {
  EXPECT_EQ(matched(nv("NVIDIA Future GPU", 132, 79.2, 9, 0)), "<none>");
  EXPECT_EQ(matched(nv("")), "<none>");
  EXPECT_EQ(matched(nv("NVIDIA A100X")), "<none>");
  EXPECT_EQ(matched(nv("NVIDIA L40SX")), "<none>");
  EXPECT_EQ(matched(nv("NVIDIA GeForce 4090")), "<none>") << "bare numbers need the RTX family token";
}

TEST(GpuSpec, TokenisesOnSpaceDashUnderscore) {
  const auto t = ak::hw::tokenize_gpu_name("NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(t, (std::vector<std::string>{"nvidia", "a100", "sxm4", "80gb"}));
  const auto u = ak::hw::tokenize_gpu_name("  AMD_Instinct  MI300X ");
  EXPECT_EQ(u, (std::vector<std::string>{"amd", "instinct", "mi300x"}));
}

// ---- estimate --------------------------------------------------------------------------------

TEST(GpuSpec, EstimatesAnH100PretendingToBeUnknown) {
  DeviceProps p = nv("NVIDIA Future GPU", 132, 79.2, 9, 0);
  p.sm_clock_mhz = 1980;
  p.mem_clock_mhz = 2619;
  p.mem_bus_width_bits = 5120;
  p.l2_mb = 50;
  const GpuSpec s = ak::hw::estimate_spec(p);
  EXPECT_TRUE(s.estimated);
  EXPECT_EQ(s.vendor, "nvidia");
  EXPECT_EQ(s.compute_capability, "9.0");
  EXPECT_EQ(s.name, "NVIDIA Future GPU");
  EXPECT_TRUE(within(s.tflops_bf16, 989.4, 0.15)) << s.tflops_bf16;
  EXPECT_TRUE(within(s.tflops_fp16, 989.4, 0.15)) << s.tflops_fp16;
  EXPECT_TRUE(within(s.tflops_fp8, 1978.9, 0.15)) << s.tflops_fp8;
  EXPECT_TRUE(within(s.tflops_tf32, 494.7, 0.15)) << s.tflops_tf32;
  EXPECT_TRUE(within(s.tflops_fp32, 66.9, 0.05)) << s.tflops_fp32;
  EXPECT_TRUE(within(s.bandwidth_gb_s, 3352, 0.05)) << s.bandwidth_gb_s;
  EXPECT_DOUBLE_EQ(s.l2_mb, 50);
  // spec_for takes the same path for an unknown name.
  EXPECT_TRUE(ak::hw::spec_for(p).estimated);
}

TEST(GpuSpec, EstimatesReproduceA100And4090AndMi300xDatasheets) {
  DeviceProps a = nv("NVIDIA Unknown Ampere", 108, 39.6, 8, 0);
  a.sm_clock_mhz = 1410;
  a.mem_clock_mhz = 1215;
  a.mem_bus_width_bits = 5120;
  const GpuSpec sa = ak::hw::estimate_spec(a);
  EXPECT_TRUE(within(sa.tflops_bf16, 312, 0.02)) << sa.tflops_bf16;
  EXPECT_TRUE(within(sa.tflops_tf32, 156, 0.02)) << sa.tflops_tf32;
  EXPECT_TRUE(within(sa.tflops_fp32, 19.5, 0.02)) << sa.tflops_fp32;
  EXPECT_DOUBLE_EQ(sa.tflops_fp8, sa.tflops_fp16);  // no fp8 units before sm_89
  EXPECT_TRUE(within(sa.bandwidth_gb_s, 1555, 0.01)) << sa.bandwidth_gb_s;

  DeviceProps g = nv("NVIDIA GeForce RTX 4095", 128, 23.6, 8, 9);  // GeForce -> half-rate fp32 accumulate
  g.sm_clock_mhz = 2520;
  g.mem_clock_mhz = 10501;
  g.mem_bus_width_bits = 384;
  const GpuSpec sg = ak::hw::estimate_spec(g);
  EXPECT_TRUE(within(sg.tflops_fp16, 165.2, 0.02)) << sg.tflops_fp16;
  EXPECT_TRUE(within(sg.tflops_fp8, 330.3, 0.02)) << sg.tflops_fp8;
  EXPECT_TRUE(within(sg.tflops_fp32, 82.6, 0.02)) << sg.tflops_fp32;
  EXPECT_TRUE(within(sg.bandwidth_gb_s, 1008, 0.01)) << sg.bandwidth_gb_s;

  DeviceProps l = nv("NVIDIA Unknown Ada Datacenter", 58, 22.0, 8, 9);  // non-GeForce -> full rate
  l.sm_clock_mhz = 2040;
  EXPECT_TRUE(within(ak::hw::estimate_spec(l).tflops_fp16, 121, 0.02));

  DeviceProps m = amd("", "gfx942:sramecc+:xnack-", 304, 191.98, 2100);
  m.name = "AMD Instinct MI399X";
  m.mem_clock_mhz = 1300;
  m.mem_bus_width_bits = 8192;
  ASSERT_FALSE(ak::hw::match_known(m));
  const GpuSpec sm = ak::hw::estimate_spec(m);
  EXPECT_EQ(sm.vendor, "amd");
  EXPECT_EQ(sm.compute_capability, "gfx942");
  EXPECT_TRUE(within(sm.tflops_fp16, 1307.4, 0.02)) << sm.tflops_fp16;
  EXPECT_TRUE(within(sm.tflops_fp8, 2614.9, 0.02)) << sm.tflops_fp8;
  EXPECT_TRUE(within(sm.tflops_fp32, 163.4, 0.02)) << sm.tflops_fp32;
  EXPECT_TRUE(within(sm.bandwidth_gb_s, 5300, 0.05)) << sm.bandwidth_gb_s;
}

TEST(GpuSpec, EstimateWithoutClocksIsConservativeAndPositive) {
  const GpuSpec s = ak::hw::estimate_spec(nv("NVIDIA Mystery", 100, 48, 8, 9));
  EXPECT_TRUE(s.estimated);
  EXPECT_GT(s.tflops_fp16, 0);
  EXPECT_GT(s.bandwidth_gb_s, 0);
  EXPECT_LE(s.bandwidth_gb_s, 864);  // below any real 48 GB part
  EXPECT_GT(s.l2_mb, 0);
  const GpuSpec e = ak::hw::estimate_spec(DeviceProps{});
  EXPECT_TRUE(e.estimated);
  EXPECT_FALSE(e.name.empty());
}

TEST(GpuSpec, SpecForPrefersTheTable) {
  const GpuSpec s = ak::hw::spec_for(nv("NVIDIA H100 80GB HBM3", 132, 79.2, 9, 0));
  EXPECT_FALSE(s.estimated);
  EXPECT_EQ(s.name, "NVIDIA H100 SXM5 80GB");
}

// ---- peak_tflops -----------------------------------------------------------------------------

TEST(GpuSpec, PeakTflopsPerDtype) {
  const auto& h = by_name("NVIDIA H100 SXM5 80GB");
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "fp16"), 989.4);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "half"), 989.4);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "bf16"), 989.4);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "torch.bfloat16"), 989.4);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "fp32"), 66.9);  // SIMT, never tf32
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "float32"), 66.9);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "tf32"), 494.7);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "fp8"), 1978.9);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "float8_e4m3fn"), 1978.9);
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(h, "FP8_E5M2"), 1978.9);
  EXPECT_THROW(ak::hw::peak_tflops(h, "int8"), std::invalid_argument);
  EXPECT_THROW(ak::hw::peak_tflops(h, ""), std::invalid_argument);
}

TEST(GpuSpec, Fp8FallsBackToFp16RateWithoutNativeUnits) {
  const auto& a = by_name("NVIDIA A100 SXM4 80GB");
  EXPECT_FALSE(ak::hw::has_native_fp8(a));
  EXPECT_DOUBLE_EQ(ak::hw::peak_tflops(a, "fp8"), ak::hw::peak_tflops(a, "fp16"));
  EXPECT_FALSE(ak::hw::has_native_fp8(by_name("NVIDIA GeForce RTX 3090")));
  EXPECT_TRUE(ak::hw::has_native_fp8(by_name("NVIDIA H100 SXM5 80GB")));
  EXPECT_TRUE(ak::hw::has_native_fp8(by_name("NVIDIA L4")));
  EXPECT_TRUE(ak::hw::has_native_fp8(by_name("NVIDIA B200")));
  EXPECT_TRUE(ak::hw::has_native_fp8(by_name("AMD Instinct MI300X")));
  EXPECT_TRUE(ak::hw::has_native_fp8(by_name("AMD Instinct MI355X")));
}
