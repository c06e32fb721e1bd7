using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Benchmarks;

/// <summary>
/// Per-access cost of a vCPU load through the EPT (guest.read) against a plain byte[] read with the same
/// addresses. The simulated EPT has no TLB: both patterns walk it; they differ in how far apart the pages are.
/// </summary>
[MemoryDiagnoser]
public class GuestVcpuBenchmarks : FlatArrayComparison
{
    private HostKernel _kernel = null!;
    private Vm _vm = null!;

    [GlobalSetup]
    public void Setup()
    {
        var simulation = BenchMachine.Create(VmBytes);
        _kernel = simulation.Kernel;
        _vm = _kernel.Kvm.VmList[0];
        PrepareFlat();
        for (var page = 0UL; page < VmBytes; page += PageGeometry.PageSize)
        {
            if (!_kernel.Kvm.TryGuestAccess(_vm, page, Flat.AsSpan((int)page, PageGeometry.PageSize), write: true, shared: false, out var failure))
                throw new InvalidOperationException($"pre-touch of gpa 0x{page:x} failed: {failure}");
        }
        var faults = _kernel.CostLedger.Count(CostKind.EptFault);
        if (TryGuestAccess() != FlatArray())
            throw new InvalidOperationException("the simulated reads returned other bytes than the flat array");
        if (_kernel.CostLedger.Count(CostKind.EptFault) != faults)
            throw new InvalidOperationException("a measured read took an EPT fault: the pre-touch did not populate the EPT");
    }

    /// <summary>The whole guest.read path (HostKernel.TryGuestAccess), without the result array GuestAccess allocates.</summary>
    [Benchmark(OperationsPerInvoke = AccessPatterns.AccessesPerInvoke)]
    public ulong TryGuestAccess()
    {
        var kernel = _kernel;
        var vm = _vm;
        var destination = Destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in Offsets)
        {
            if (!kernel.Kvm.TryGuestAccess(vm, offset, destination, write: false, shared: false, out var failure))
                throw new InvalidOperationException($"gpa 0x{offset:x}: {failure}");
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }
}
