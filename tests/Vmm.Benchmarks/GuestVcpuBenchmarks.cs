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
public class GuestVcpuBenchmarks
{
    private const ulong VmBytes = 64UL << 20;
    private readonly byte[] _destination = new byte[8];
    private HostKernel _kernel = null!;
    private Vm _vm = null!;
    private ulong[] _offsets = [];
    private byte[] _flat = [];

    [Params(AccessPattern.TlbHit, AccessPattern.FullWalk)]
    public AccessPattern Pattern { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var simulation = BenchMachine.Create(VmBytes);
        _kernel = simulation.Kernel;
        _vm = _kernel.VmList[0];
        _offsets = AccessPatterns.Offsets(Pattern);
        _flat = new byte[VmBytes];
        new Random(42).NextBytes(_flat);
        for (var page = 0UL; page < VmBytes; page += PageGeometry.PageSize)
        {
            if (!_kernel.TryGuestAccess(_vm, page, _flat.AsSpan((int)page, PageGeometry.PageSize), write: true, shared: false, out var failure))
                throw new InvalidOperationException($"pre-touch of gpa 0x{page:x} failed: {failure}");
        }
        var faults = _kernel.CostLedger.Count(CostKind.EptFault);
        if (TryGuestAccess() != FlatArray())
            throw new InvalidOperationException("the simulated reads returned other bytes than the flat array");
        if (_kernel.CostLedger.Count(CostKind.EptFault) != faults)
            throw new InvalidOperationException("a measured read took an EPT fault: the pre-touch did not populate the EPT");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = AccessPatterns.AccessesPerInvoke)]
    public ulong FlatArray()
    {
        var flat = _flat;
        var destination = _destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in _offsets)
        {
            flat.AsSpan((int)offset, 8).CopyTo(destination);
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }

    /// <summary>The whole guest.read path (HostKernel.TryGuestAccess), without the result array GuestAccess allocates.</summary>
    [Benchmark(OperationsPerInvoke = AccessPatterns.AccessesPerInvoke)]
    public ulong TryGuestAccess()
    {
        var kernel = _kernel;
        var vm = _vm;
        var destination = _destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in _offsets)
        {
            if (!kernel.TryGuestAccess(vm, offset, destination, write: false, shared: false, out var failure))
                throw new InvalidOperationException($"gpa 0x{offset:x}: {failure}");
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }
}
