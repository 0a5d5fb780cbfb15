{
  "targets": [
    {
      "target_name": "lathe_native",
      "sources": [
        "native/binding.cc",
        "native/threadpool.cc",
        "native/elementwise.cc",
        "native/reduce.cc",
        "native/matmul.cc",
        "native/conv.cc",
        "native/conv_direct.cc",
        "native/conv_direct_avx512.cc",
        "native/conv_direct_avx2.cc",
        "native/conv_channels_avx512.cc",
        "native/conv_winograd.cc",
        "native/conv_winograd_avx512.cc",
        "native/conv_winograd_avx2.cc",
        "native/conv_pooled.cc",
        "native/conv_pooled_avx512.cc",
        "native/conv_pooled_avx2.cc",
        "native/optim.cc",
        "native/layout.cc",
        "native/attention.cc",
        "native/norm.cc",
        "native/gelu.cc",
        "native/quantized.cc",
        "native/quantized_conv.cc",
        "native/quantized_conv_blocks.cc",
        "native/quantized_binding.cc",
        "<!@(node -p \"require('fs').readdirSync('native/gemm').filter(f => f.endsWith('.cc') && !f.endsWith('_bench.cc')).map(f => 'native/gemm/' + f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-fno-math-errno"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"] }
    }
  ]
}
