import Testing
import CILNetworks
