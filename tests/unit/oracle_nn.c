/* oracle_nn — see oracle_nn.h. */
#include "oracle_nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "vmath.h"

/* Output frames per im2col block: big enough for sgemm to reach its peak,
** small enough that scratch stays a few MB (512 channels · 3 taps · 1024). */
#define ORACLE_CONV_BLOCK 1024

int oracle_conv1d_out_len(int len, int k, int stride, int pad) {
  long padded = (long)len + 2L * pad;
  if (stride < 1 || k < 1 || padded < k) return 0;
  return (int)((padded - k) / stride + 1);
}

size_t oracle_conv1d_scratch(int cin_per_group, int k, int lout) {
  int blk = lout < ORACLE_CONV_BLOCK ? lout : ORACLE_CONV_BLOCK;
  return (size_t)cin_per_group * (size_t)k * (size_t)(blk > 0 ? blk : 1);
}

/* col[(c·k + j), f] = x[c0+c, (f0+f)·stride + j - pad], zero outside x. */
static void im2col(const float *x, int cin_g, int c0, int len, int k, int stride, int pad, int f0,
                   int nf, float *col) {
  for (int c = 0; c < cin_g; c++) {
    const float *xc = x + (size_t)(c0 + c) * len;
    for (int j = 0; j < k; j++) {
      float *dst = col + ((size_t)c * k + j) * nf;
      for (int f = 0; f < nf; f++) {
        long pos = (long)(f0 + f) * stride + j - pad;
        dst[f] = (pos >= 0 && pos < len) ? xc[pos] : 0.0f;
      }
    }
  }
}

void oracle_conv1d(const float *x, int cin, int len, const float *w, const float *b, int cout, int k,
               int stride, int pad, int groups, float *scratch, float *y) {
  int lout = oracle_conv1d_out_len(len, k, stride, pad);
  int cin_g = cin / groups, cout_g = cout / groups, kk = cin_g * k;
  for (int g = 0; g < groups; g++) {
    const float *wg = w + (size_t)g * cout_g * kk;
    float *yg = y + (size_t)g * cout_g * lout;
    for (int f0 = 0; f0 < lout; f0 += ORACLE_CONV_BLOCK) {
      int nf = lout - f0 < ORACLE_CONV_BLOCK ? lout - f0 : ORACLE_CONV_BLOCK;
      im2col(x, cin_g, g * cin_g, len, k, stride, pad, f0, nf, scratch);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, nf, kk, 1.0f, wg, kk, scratch,
                  nf, 0.0f, yg + f0, lout);
    }
  }
  if (b)
    for (int o = 0; o < cout; o++) {
      float *row = y + (size_t)o * lout;
      for (int f = 0; f < lout; f++) row[f] += b[o];
    }
}

void oracle_group_norm(float *x, int c, int len, int groups, const float *gamma, const float *beta,
                   float eps) {
  int per = c / groups;
  size_t n = (size_t)per * (size_t)len;
  for (int g = 0; g < groups; g++) {
    float *xg = x + (size_t)g * n;
    double mean, var;
    vmath_moments(xg, n, &mean, &var);
    float inv = (float)(1.0 / sqrt(var + eps)), m = (float)mean;
    for (int ch = 0; ch < per; ch++) {
      int cc = g * per + ch;
      float *row = xg + (size_t)ch * len;
      vmath_normalize1(row, (size_t)len, m, inv, gamma ? gamma[cc] : 1.0f, beta ? beta[cc] : 0.0f,
                       row);
    }
  }
}

void oracle_weight_norm_dim2(const float *v, const float *g, int o, int i, int k, float *w) {
  size_t rows = (size_t)o * (size_t)i;
  for (int j = 0; j < k; j++) {
    double sq = 0;
    for (size_t r = 0; r < rows; r++) {
      double e = v[r * k + j];
      sq += e * e;
    }
    float scale = sq > 0 ? (float)(g[j] / sqrt(sq)) : 0.0f;
    for (size_t r = 0; r < rows; r++) w[r * k + j] = v[r * k + j] * scale;
  }
}
