import Testing
import CILKernels
