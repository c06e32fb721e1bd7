using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Machine;

namespace Vmm.Benchmarks;

/// <summary>
/// Per-access cost of a host user load (the VMM reading guest memory at its hva, host.read) against a
/// plain byte[] read with the same addresses. TlbHit measures TLB + controller; FullWalk adds a 4-level walk.
/// TryUserAccess goes through the VMM's host soft TLB, which counts the semantic TLB's misses and walks as the slow
/// path would but does not walk, and copies granted bytes itself; TranslateAndRead is the path without it.
/// </summary>
[MemoryDiagnoser]
public class GuestAccessBenchmarks : FlatArrayComparison
{
    private HostKernel _kernel = null!;
    private Process _vmm = null!;
    private ulong _hvaBase;

    [GlobalSetup]
    public void Setup()
    {
        var simulation = BenchMachine.Create(VmBytes);
        _kernel = simulation.Kernel;
        _vmm = _kernel.Vmm;
        _hvaBase = _kernel.Kvm.VmList[0].Info.HvaBase.Value;
        PrepareFlat();
        for (var page = 0UL; page < VmBytes; page += PageGeometry.PageSize)
        {
            if (!_kernel.Uaccess.TryUserAccess(_vmm, new Hva(_hvaBase + page), Flat.AsSpan((int)page, PageGeometry.PageSize), write: true, out var failure))
                throw new InvalidOperationException($"pre-touch of hva 0x{_hvaBase + page:x} failed: {failure}");
        }
        Verify();
    }

    /// <summary>Same bytes as the flat array, and the TLB behaves as the pattern's name says.</summary>
    private void Verify()
    {
        var expected = FlatArray();
        if (TranslateAndRead() != expected || TryUserAccess() != expected)
            throw new InvalidOperationException("the simulated reads returned other bytes than the flat array");
        var ledger = _kernel.CostLedger;
        var misses = ledger.Count(CostKind.TlbMiss);
        TryUserAccess();
        misses = ledger.Count(CostKind.TlbMiss) - misses;
        var wanted = Pattern == AccessPattern.TlbHit ? 0 : AccessPatterns.AccessesPerInvoke;
        if (misses != wanted) throw new InvalidOperationException($"{Pattern}: {misses} TLB misses per invocation, expected {wanted}");
    }

    /// <summary>The two steps of a host load: TranslateUser (TLB, walk) and the memory controller's Read.</summary>
    [Benchmark(OperationsPerInvoke = AccessPatterns.AccessesPerInvoke)]
    public ulong TranslateAndRead()
    {
        var kernel = _kernel;
        var memory = kernel.Memory;
        var destination = Destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in Offsets)
        {
            var va = _hvaBase + offset;
            if (kernel.FaultHandler.TranslateUser(_vmm, va, write: false, out var pfn) != VmFault.Ok)
                throw new InvalidOperationException($"hva 0x{va:x} is not mapped");
            var access = new LineAccess(pfn, (int)(va & (PageGeometry.PageSize - 1)), KeyId.Shared, Requester.HostUser);
            if (!memory.Read(access, destination).IsOk) throw new InvalidOperationException($"hva 0x{va:x} did not read");
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }

    /// <summary>The whole host.read path (Uaccess.TryUserAccess), without the result array UserAccess allocates.</summary>
    [Benchmark(OperationsPerInvoke = AccessPatterns.AccessesPerInvoke)]
    public ulong TryUserAccess()
    {
        var uaccess = _kernel.Uaccess;
        var destination = Destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in Offsets)
        {
            if (!uaccess.TryUserAccess(_vmm, new Hva(_hvaBase + offset), destination, write: false, out var failure))
                throw new InvalidOperationException($"hva 0x{_hvaBase + offset:x}: {failure}");
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }
}
