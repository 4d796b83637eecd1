// Anchor translation unit for the shared precompiled header (see CMakeLists.txt).
#include "fm/common/pch.h"
