// All optimizer kernels (mxopt::kernels) and the embeddable optimizer classes.
#pragma once

#include "mxopt/optimizers/adagrad.h"
#include "mxopt/optimizers/adam.h"
#include "mxopt/optimizers/common.h"
#include "mxopt/optimizers/ftrl.h"
#include "mxopt/optimizers/isa.h"
#include "mxopt/optimizers/lamb.h"
#include "mxopt/optimizers/multi.h"
#include "mxopt/optimizers/rmsprop.h"
#include "mxopt/optimizers/sgd.h"
#include "mxopt/optimizers/sgld.h"
#include "mxopt/optimizers/signum.h"
#include "mxopt/optimizers/test.h"
