#include "hw/device.hpp"

#ifdef AK_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace ak::hw {

DeviceInfo detect(const at::Device& device) {
  DeviceInfo info;
  if (!device.is_cuda()) {
    info.name = "cpu";
    return info;
  }
#ifdef AK_HAVE_CUDA
  const auto* p = at::cuda::getDeviceProperties(device.index() < 0 ? 0 : device.index());
  info.is_gpu = true;
  info.name = p->name;
  info.props.name = p->name;
  info.props.cc_major = p->major;
  info.props.cc_minor = p->minor;
  info.props.sm_count = p->multiProcessorCount;
  info.props.total_memory_gb = double(p->totalGlobalMem) / 1e9;
  info.props.l2_mb = double(p->l2CacheSize) / 1e6;
  int clock_khz = 0, mem_clock_khz = 0, bus_bits = 0;
  const int dev = device.index() < 0 ? 0 : device.index();
  // Clock attributes moved out of cudaDeviceProp in CUDA 13: ask for them one by one.
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev);
  cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, dev);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev);
  info.props.sm_clock_mhz = clock_khz / 1000.0;
  info.props.mem_clock_mhz = mem_clock_khz / 1000.0;
  info.props.mem_bus_width_bits = bus_bits;
  info.spec = spec_for(info.props);
#endif
  return info;
}

}  // namespace ak::hw
