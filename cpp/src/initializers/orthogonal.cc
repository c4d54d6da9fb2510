// Orthogonal: SVD (Eigen, float32) of a random float32 matrix drawn from the generator.
// Eigen's own threading is off so the result cannot depend on the thread count.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Dense>
#include <Eigen/SVD>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "mxopt/initializer.h"

namespace mxopt::init {

void Orthogonal::fill(Buffer out, const Shape& shape, Generator& rng) const {
  check_buffer(out, shape);
  if (shape.size() < 2)
    throw std::invalid_argument("Orthogonal initializer needs at least 2 dimensions, got shape " +
                                shape_str(shape));
  if (rand_type != "uniform" && rand_type != "normal")
    throw std::invalid_argument("Orthogonal: rand_type must be 'uniform' or 'normal', got '" +
                                rand_type + "'");
  const Eigen::Index nout = shape[0];
  const Eigen::Index nin = static_cast<Eigen::Index>(out.size / std::max<std::size_t>(1, nout));
  if (out.size == 0) return;
  std::vector<float> t(out.size);
  if (rand_type == "uniform") {
    rng.uniform(-1.0, 1.0, Buffer(t.data(), t.size()));
  } else {
    rng.normal(0.0, 1.0, Buffer(t.data(), t.size()));
  }
  // In float32 like MXNet (numpy's float32 LAPACK SVD); only the factor that is used.
  using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::MatrixXf a = Eigen::Map<const RowMajorF>(t.data(), nout, nin);
  // MXNet: u if u has T's shape (nout >= nin) else v (= V^T), times float32(scale) in float32.
  Eigen::MatrixXf r;
  if (nout >= nin) {
    Eigen::BDCSVD<Eigen::MatrixXf> svd(a, Eigen::ComputeThinU);
    r = svd.matrixU();
  } else {
    Eigen::BDCSVD<Eigen::MatrixXf> svd(a, Eigen::ComputeThinV);
    r = svd.matrixV().transpose();
  }
  const float s = static_cast<float>(scale);
  for (Eigen::Index i = 0; i < nout; ++i) {
    for (Eigen::Index j = 0; j < nin; ++j) {
      const float v = s * r(i, j);
      const std::size_t k = static_cast<std::size_t>(i * nin + j);
      switch (out.dtype) {
        case DType::kFloat32: static_cast<float*>(out.data)[k] = v; break;
        case DType::kFloat64: static_cast<double*>(out.data)[k] = v; break;
        case DType::kFloat16: static_cast<Half*>(out.data)[k] = to_half(v); break;
      }
    }
  }
}

}  // namespace mxopt::init
