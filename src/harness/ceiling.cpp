#include "harness/ceiling.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "harness/timing.hpp"
#include "util/fs.hpp"

namespace ak::harness {

namespace {

std::string file_safe(std::string s) {
  for (auto& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

double time_ms(const at::Device& device, const std::function<void()>& fn) {
  SampleTimer timer(device);
  TimingOptions o;
  o.min_samples = 10;
  o.max_samples = 50;
  o.max_seconds = 2.0;
  return timer.time([](int) {}, [&](int) { fn(); }, [](int) {}, o).median_ms;
}

}  // namespace

Ceiling measured_ceiling(const at::Device& device, const hw::DeviceInfo& info) {
  const auto path = util::cache_dir() / "ceiling" / (file_safe(info.name) + ".json");
  if (auto text = util::read_file(path); text) {
    try {
      auto j = nlohmann::json::parse(*text);
      return {j.at("copy_gb_s").get<double>(), j.at("matmul_tflops").get<double>(),
              j.at("matmul_what").get<std::string>()};
    } catch (const std::exception&) {
      // A damaged cache is measured again.
    }
  }
  Ceiling c;
  const int64_t copy_bytes = info.is_gpu ? (1LL << 30) : (256LL << 20);
  auto src = at::empty({copy_bytes}, at::TensorOptions().dtype(at::kByte).device(device)).fill_(1);
  auto dst = at::empty_like(src);
  c.copy_gb_s = 2.0 * copy_bytes / (time_ms(device, [&] { dst.copy_(src); }) * 1e-3) / 1e9;
  const int64_t n = info.is_gpu ? 8192 : 1024;
  const auto dtype = info.is_gpu ? at::kBFloat16 : at::kFloat;
  auto a = at::randn({n, n}, at::TensorOptions().dtype(dtype).device(device));
  auto b = at::randn({n, n}, at::TensorOptions().dtype(dtype).device(device));
  c.matmul_tflops = 2.0 * n * n * n / (time_ms(device, [&] { at::matmul(a, b); }) * 1e-3) / 1e12;
  c.matmul_what = fmt::format("{} {}^3 (torch.matmul)", info.is_gpu ? "bf16" : "f32", n);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  nlohmann::json j = {{"device", info.name},
                      {"copy_gb_s", c.copy_gb_s},
                      {"matmul_tflops", c.matmul_tflops},
                      {"matmul_what", c.matmul_what}};
  (void)util::write_file_atomic(path, j.dump(2));
  return c;
}

}  // namespace ak::harness
