// Training-mode batch normalisation of an NHWC tensor seen as a row-major (rows, channels) matrix.
// Compiled at run time by common/native.py; common/bn.py falls back to PyTorch operators without it.
//
// Accuracy: sums run over a wide (rows / k, k * channels) view of the same memory (long, vectorised
// inner loops), in blocks of BLOCK rows accumulated in T and added into double totals, so no
// float32 sum runs over more than BLOCK terms. The variance is the mean square of x - mean (two
// passes), corrected by the mean of x - mean as rounded.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <omp.h>

namespace {

constexpr int64_t BLOCK = 64;

struct Wide {
    int64_t rows;   // rows of the wide view
    int64_t width;  // k * channels
    int64_t channels;
};

Wide wide_view(int64_t rows, int64_t channels) {
    int64_t k = 1;
    while (k < 64 && rows % (2 * k) == 0 && 2 * k * channels <= 1024) k *= 2;
    return {rows / k, k * channels, channels};
}

int team_size(int threads, const Wide& v) {
    if (threads < 1) threads = 1;
    int64_t useful = v.rows * v.width / 16384;  // ~64 KiB of float32 per thread at least
    if (useful < threads) threads = useful < 1 ? 1 : (int)useful;
    if (threads > v.rows) threads = (int)v.rows;
    return threads;
}

// Per-channel double sums of f(row, column) over all rows: f is evaluated on the wide view.
template <typename T, typename F>
void column_sums(const Wide& v, int threads, int terms, double* out, F f) {
    const int64_t w = v.width;
    double* partial = (double*)calloc((size_t)threads * terms * w, sizeof(double));
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int64_t begin = v.rows * t / n, end = v.rows * (t + 1) / n;
        T* block = (T*)calloc((size_t)terms * w, sizeof(T));
        double* total = partial + (size_t)t * terms * w;
        for (int64_t r0 = begin; r0 < end; r0 += BLOCK) {
            const int64_t r1 = r0 + BLOCK < end ? r0 + BLOCK : end;
            for (int64_t r = r0; r < r1; ++r) f(r, block);
            for (int64_t j = 0; j < terms * w; ++j) {
                total[j] += block[j];
                block[j] = 0;
            }
        }
        free(block);
    }
    // threads, then the k column groups of each channel
    memset(out, 0, sizeof(double) * terms * v.channels);
    for (int t = 0; t < threads; ++t)
        for (int s = 0; s < terms; ++s)
            for (int64_t j = 0; j < w; ++j)
                out[s * v.channels + j % v.channels] += partial[((size_t)t * terms + s) * w + j];
    free(partial);
}

// Per-channel values repeated across the wide view's k column groups.
template <typename T>
T* widen(const Wide& v, const double* per_channel) {
    T* row = (T*)malloc(sizeof(T) * v.width);
    for (int64_t j = 0; j < v.width; ++j) row[j] = (T)per_channel[j % v.channels];
    return row;
}

template <typename T>
void forward(const T* x, T* out, int64_t rows, int64_t channels, double eps, const T* weight,
             const T* bias, T* mean_out, T* var_out, T* invstd_out, int threads) {
    const Wide v = wide_view(rows, channels);
    const int team = team_size(threads, v);
    const int64_t w = v.width;
    double* sums = (double*)malloc(sizeof(double) * 2 * channels);
    column_sums<T>(v, team, 1, sums, [&](int64_t r, T* acc) {
        const T* xr = x + r * w;
        for (int64_t j = 0; j < w; ++j) acc[j] += xr[j];
    });
    for (int64_t c = 0; c < channels; ++c) {
        mean_out[c] = (T)(sums[c] / rows);
        sums[c] = (double)mean_out[c];
    }
    T* centre = widen<T>(v, sums);
    column_sums<T>(v, team, 2, sums, [&](int64_t r, T* acc) {
        const T* xr = x + r * w;
        T* sq = acc + w;
        for (int64_t j = 0; j < w; ++j) {
            const T d = xr[j] - centre[j];
            acc[j] += d;
            sq[j] += d * d;
        }
    });
    double* scale = (double*)malloc(sizeof(double) * 2 * channels);
    for (int64_t c = 0; c < channels; ++c) {
        const double shift = sums[c] / rows;  // mean of x - mean as rounded: ~0
        double var = sums[channels + c] / rows - shift * shift;
        if (var < 0) var = 0;
        const double invstd = 1.0 / std::sqrt(var + eps);
        var_out[c] = (T)var;
        invstd_out[c] = (T)invstd;
        scale[c] = (double)(T)invstd * (weight ? (double)weight[c] : 1.0);
        scale[channels + c] = bias ? (double)bias[c] : 0.0;
    }
    T* a = widen<T>(v, scale);
    T* b = widen<T>(v, scale + channels);
#pragma omp parallel for num_threads(team) schedule(static)
    for (int64_t r = 0; r < v.rows; ++r) {
        const T* xr = x + r * w;
        T* o = out + r * w;
        for (int64_t j = 0; j < w; ++j) o[j] = (xr[j] - centre[j]) * a[j] + b[j];
    }
    free(a);
    free(b);
    free(centre);
    free(scale);
    free(sums);
}

// PyTorch's native_batch_norm_backward in training mode, given the saved mean and invstd.
template <typename T>
void backward(const T* grad, const T* x, const T* mean, const T* invstd, const T* weight, T* grad_x,
              T* grad_weight, T* grad_bias, int64_t rows, int64_t channels, int threads) {
    const Wide v = wide_view(rows, channels);
    const int team = team_size(threads, v);
    const int64_t w = v.width;
    double* per_channel = (double*)malloc(sizeof(double) * 3 * channels);
    for (int64_t c = 0; c < channels; ++c) per_channel[c] = (double)mean[c];
    T* centre = widen<T>(v, per_channel);
    double* sums = (double*)malloc(sizeof(double) * 2 * channels);
    column_sums<T>(v, team, 2, sums, [&](int64_t r, T* acc) {
        const T* gr = grad + r * w;
        const T* xr = x + r * w;
        T* dot = acc + w;
        for (int64_t j = 0; j < w; ++j) {
            acc[j] += gr[j];
            dot[j] += gr[j] * (xr[j] - centre[j]);
        }
    });
    for (int64_t c = 0; c < channels; ++c) {
        const double s = invstd[c], g = weight ? weight[c] : 1.0;
        if (grad_weight) grad_weight[c] = (T)(sums[channels + c] * s);
        if (grad_bias) grad_bias[c] = (T)sums[c];
        per_channel[c] = sums[c] / rows;                           // mean of grad
        per_channel[channels + c] = sums[channels + c] / rows * s * s;  // projection on x - mean
        per_channel[2 * channels + c] = s * g;
    }
    if (grad_x) {
        T* mean_grad = widen<T>(v, per_channel);
        T* projection = widen<T>(v, per_channel + channels);
        T* scale = widen<T>(v, per_channel + 2 * channels);
#pragma omp parallel for num_threads(team) schedule(static)
        for (int64_t r = 0; r < v.rows; ++r) {
            const T* gr = grad + r * w;
            const T* xr = x + r * w;
            T* o = grad_x + r * w;
            for (int64_t j = 0; j < w; ++j)
                o[j] = (gr[j] - mean_grad[j] - (xr[j] - centre[j]) * projection[j]) * scale[j];
        }
        free(mean_grad);
        free(projection);
        free(scale);
    }
    free(centre);
    free(sums);
    free(per_channel);
}

}  // namespace

extern "C" {

int rlnas_abi_version() { return 1; }  // common/native.py ABI_VERSION

void rlnas_bn_forward_f32(const float* x, float* out, int64_t rows, int64_t channels, double eps,
                          const float* weight, const float* bias, float* mean, float* var, float* invstd,
                          int threads) {
    forward<float>(x, out, rows, channels, eps, weight, bias, mean, var, invstd, threads);
}

void rlnas_bn_forward_f64(const double* x, double* out, int64_t rows, int64_t channels, double eps,
                          const double* weight, const double* bias, double* mean, double* var,
                          double* invstd, int threads) {
    forward<double>(x, out, rows, channels, eps, weight, bias, mean, var, invstd, threads);
}

void rlnas_bn_backward_f32(const float* grad, const float* x, const float* mean, const float* invstd,
                           const float* weight, float* grad_x, float* grad_weight, float* grad_bias,
                           int64_t rows, int64_t channels, int threads) {
    backward<float>(grad, x, mean, invstd, weight, grad_x, grad_weight, grad_bias, rows, channels, threads);
}

void rlnas_bn_backward_f64(const double* grad, const double* x, const double* mean, const double* invstd,
                           const double* weight, double* grad_x, double* grad_weight, double* grad_bias,
                           int64_t rows, int64_t channels, int threads) {
    backward<double>(grad, x, mean, invstd, weight, grad_x, grad_weight, grad_bias, rows, channels, threads);
}

}
