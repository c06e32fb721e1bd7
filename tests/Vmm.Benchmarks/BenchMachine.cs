using System.Runtime.CompilerServices;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;

namespace Vmm.Benchmarks;

/// <summary>The machine every benchmark runs on: baseline components, one anon VM "vm0", default host memory.</summary>
internal static class BenchMachine
{
    public const string VmName = "vm0";

    /// <param name="hostBytes">`host.memory`; null for the default, the VM plus headroom.</param>
    /// <param name="contentsFree">Keep no guest bytes (memory.contents "none").</param>
    /// <param name="backing">The VM's backing (hugetlb: 2 MiB leaves in the VMM's table).</param>
    /// <param name="thp">THP for the VM's anon memory (MADV_HUGEPAGE: 2 MiB leaves in the VMM's table).</param>
    /// <param name="hugeEpt">kvm.hugeEpt: 2 MiB EPT leaves where the VMM's leaf is 2 MiB.</param>
    public static Simulation Create(ulong vmBytes, ulong? hostBytes = null, bool contentsFree = false, BackingKind backing = BackingKind.Anon, bool thp = false, bool hugeEpt = false)
    {
        var scenario = new Scenario
        {
            File = "benchmark",
            Name = $"benchmark-{vmBytes >> 20}M",
            HostMemory = hostBytes,
            Vms = [new VmSpec(VmName, vmBytes, Protected: false, backing, thp, new SourceLocation("benchmark", 0, 0))],
        };
        var contents = contentsFree ? PhysicalMemory.ContentsFree() : new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(
            new PlainMemoryController(contents, ledger),
            new NonePolicy(),
            new LinuxFaultDelivery(),
            new RadixPageTableFactory(),
            thp ? new AlwaysHuge() : null,
            new KernelOptions(),
            new CostOptions())
        {
            Contents = contents,
            Ledger = ledger,
            Kvm = new KvmOptions { HugeEpt = hugeEpt },
        };
        return new Simulation(scenario, components);
    }

    /// <summary>THP "always" with no policy behind it: the VMM maps every VM huge and nothing acts on a subpage.</summary>
    private sealed class AlwaysHuge : IHugePageStrategy
    {
        public bool AllowHugeMapping(VmInfo vm) => true;

        public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn) => true;
    }

    /// <summary>Writes 8 bytes through a vCPU into <paramref name="pages"/> pages spread evenly over the VM.</summary>
    public static void TouchSpread(Simulation simulation, int pages)
    {
        var kernel = simulation.Kernel;
        var vm = kernel.Kvm.VmList[0];
        var stride = vm.Info.MemoryBytes / (ulong)pages & ~(ulong)(PageGeometry.PageSize - 1);
        Span<byte> data = stackalloc byte[8];
        for (var i = 0; i < pages; i++)
        {
            BitConverter.TryWriteBytes(data, (ulong)i + 1);
            if (!kernel.Kvm.TryGuestAccess(vm, (ulong)i * stride, data, write: true, shared: false, out var failure))
                throw new InvalidOperationException($"touching page {i} failed: {failure}");
        }
    }
}

/// <summary>
/// Every Vmm.Core internal the target mode's own measurements call (guest loads, footprints), kept in one
/// place so that a change of the machine's internals is adapted here only.
/// </summary>
internal readonly struct GuestPort(HostKernel kernel, Vm vm)
{
    public static GuestPort Of(Simulation simulation) => new(simulation.Kernel, simulation.Kernel.Kvm.VmList[0]);

    /// <summary>One private vCPU access (guest.read / guest.write) through the EPT.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAccess(ulong gpa, Span<byte> data, bool write) => kernel.Kvm.TryGuestAccess(vm, gpa, data, write, shared: false, out _);

    public void Write(ulong gpa, Span<byte> data)
    {
        if (!kernel.Kvm.TryGuestAccess(vm, gpa, data, write: true, shared: false, out var failure))
            throw new InvalidOperationException($"guest write of gpa 0x{gpa:x} failed: {failure}");
    }
}

/// <summary>What a simulation holds: frame-side bytes (contents, per-frame metadata, rmap), host frames, and page-table bytes.</summary>
internal readonly record struct MachineFootprint(long FrameBytes, long HostFrames, long VmmTableBytes, long EptTableBytes)
{
    public static MachineFootprint Of(Simulation simulation)
    {
        var kernel = simulation.Kernel;
        return new(simulation.FootprintBytes, kernel.Mm.Frames.Count,
            ((RadixPageTable)kernel.Vmm.PageTable).TablePages * PageGeometry.PageSize,
            ((RadixPageTable)kernel.Kvm.VmList[0].Ept).TablePages * PageGeometry.PageSize);
    }
}
