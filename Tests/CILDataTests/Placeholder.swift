import Testing
import CILData
