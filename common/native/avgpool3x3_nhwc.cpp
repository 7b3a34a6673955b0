// 3x3 average pooling, stride 1, padding 1, count_include_pad=False, of an NHWC tensor, and its
// backward. The divisor of an output pixel is its number of in-image window pixels, the product
// of a row factor and a column factor (3, or 2 at an edge, or 1 for a side of one pixel).
// Compiled at run time by common/native.py; common/pooling.py falls back to PyTorch operators.
#include <cstdint>
#include <cstdlib>
#include <omp.h>

namespace {

inline int64_t window(int64_t i, int64_t n) {  // in-image pixels of a 3-pixel window along one side
    return (i > 0) + 1 + (i + 1 < n);
}

// Forward (scale_source false): dst[h, w] = sum of src over the window / count(h, w).
// Backward (scale_source true): dst[h, w] = sum over the window of src[h', w'] / count(h', w'),
// the adjoint of the forward. Rows of one image run in parallel; each output row sums three input
// rows into a buffer first (vertical), then three buffer pixels (horizontal).
template <typename T>
void box3(const T* src, T* dst, int64_t batch, int64_t height, int64_t width, int64_t channels,
          bool scale_source, int threads) {
    const int64_t row = width * channels;
    if (batch * height * row < 32768) threads = 1;
#pragma omp parallel num_threads(threads)
    {
        T* vertical = (T*)malloc(sizeof(T) * row);
#pragma omp for schedule(static)
        for (int64_t nh = 0; nh < batch * height; ++nh) {
            const int64_t n = nh / height, h = nh % height;
            const T* image = src + n * height * row;
            for (int64_t j = 0; j < row; ++j) vertical[j] = 0;
            for (int64_t source = h - 1; source <= h + 1; ++source) {
                if (source < 0 || source >= height) continue;
                const T* in = image + source * row;
                if (scale_source) {
                    const T factor = T(1) / (T)window(source, height);
                    for (int64_t w = 0; w < width; ++w) {
                        const T f = factor / (T)window(w, width);
                        for (int64_t c = 0; c < channels; ++c) vertical[w * channels + c] += in[w * channels + c] * f;
                    }
                } else {
                    for (int64_t j = 0; j < row; ++j) vertical[j] += in[j];
                }
            }
            T* out = dst + nh * row;
            const T row_factor = scale_source ? T(1) : T(1) / (T)window(h, height);
            for (int64_t w = 0; w < width; ++w) {
                const T f = scale_source ? T(1) : row_factor / (T)window(w, width);
                const T* centre = vertical + w * channels;
                T* o = out + w * channels;
                for (int64_t c = 0; c < channels; ++c) {
                    T sum = centre[c];
                    if (w > 0) sum += centre[c - channels];
                    if (w + 1 < width) sum += centre[c + channels];
                    o[c] = sum * f;
                }
            }
        }
        free(vertical);
    }
}

}  // namespace

extern "C" {

int rlnas_abi_version() { return 1; }  // common/native.py ABI_VERSION

void rlnas_avgpool3x3_f32(const float* src, float* dst, int64_t batch, int64_t height, int64_t width,
                          int64_t channels, int backward, int threads) {
    box3<float>(src, dst, batch, height, width, channels, backward != 0, threads);
}

void rlnas_avgpool3x3_f64(const double* src, double* dst, int64_t batch, int64_t height, int64_t width,
                          int64_t channels, int backward, int threads) {
    box3<double>(src, dst, batch, height, width, channels, backward != 0, threads);
}

}
