using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine;

/// <summary>One run of a scenario on a fresh simulated host: create the VMs, then execute steps in order.</summary>
public sealed class Simulation
{
    /// <summary>Host memory added to the VMs' memory when the scenario does not say `host.memory`.</summary>
    public const ulong DefaultHostHeadroom = ScenarioLimits.DefaultHostHeadroom;

    private readonly HostKernel _kernel;
    private readonly OutcomeResolver _resolver;

    public Simulation(Scenario scenario, SimulationComponents components)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(components);
        Scenario = scenario;
        Components = components;
        Ledger = components.Ledger;
        var vmBytes = 0UL;
        foreach (var vm in scenario.Vms) vmBytes += vm.Memory;
        var host = scenario.HostMemory ?? ScenarioLimits.DefaultHostMemory(vmBytes);
        if (host < vmBytes && scenario.HostMemory is not null)
            throw new ScenarioException($"host.memory ({host} bytes) is smaller than the VMs' memory ({vmBytes} bytes); raise host.memory or leave it out", new SourceLocation(scenario.File, 0, 0));
        CheckHostFits(scenario, host);
        var frames = (long)(((host + PageGeometry.HugeSize - 1) & ~(PageGeometry.HugeSize - 1)) >> PageGeometry.PageShift);
        _kernel = new HostKernel(frames, components, scenario.Kernel, Ledger);
        _resolver = new OutcomeResolver(components.Faults);
        foreach (var vm in scenario.Vms)
        {
            if (vm.Memory == 0 || vm.Memory % PageGeometry.PageSize != 0)
                throw new ScenarioException($"vm '{vm.Name}': memory must be a non-zero multiple of 4K", vm.Location);
            if (vm.Backing == BackingKind.Hugetlb && vm.Memory % PageGeometry.HugeSize != 0)
                throw new ScenarioException($"vm '{vm.Name}': hugetlb memory must be a multiple of 2M", vm.Location);
            if (vm.Backing == BackingKind.GuestMemfd && !scenario.Kernel.AtLeast(6, 8))
                throw new ScenarioException($"vm '{vm.Name}': guest-memfd backing needs kernel 6.8 or later (scenario kernel is {scenario.Kernel}); set \"kernel\": \"6.8\"", vm.Location);
            if (vm.Thp && components.Thp is null)
                throw new ScenarioException($"vm '{vm.Name}' has thp: true but no huge-page strategy was resolved; add a THP plugin or set thp: false", vm.Location);
            ulong up = _kernel.Vmm.MmapCursor, down = _kernel.Vmm.MmapLowCursor;
            if (!ScenarioLimits.TryPlaceVmMapping(ref up, ref down, vm.Memory, out _))
                throw new ScenarioException($"vm '{vm.Name}' ({vm.Memory} bytes) does not fit the VMM's address space: VMs are mapped from 0x{Process.MmapBase:x} up to 0x{Process.UserSpaceEnd:x}, each at the next 1 GiB boundary, and one that no longer fits there top-down below 0x{Process.MmapBase:x} down to 0x{ScenarioLimits.VmmLowFloor:x}; make the VMs smaller or fewer", vm.Location);
            try
            {
                _kernel.Kvm.CreateVm(vm.Name, vm.Memory, vm.Protected, vm.Backing, vm.Thp, vm.GmemFlags);
            }
            catch (ComponentOptionsException e)
            {
                throw new ScenarioException($"vm '{vm.Name}': {e.Message}", vm.Location);
            }
        }
        if (components.Thp is not null) Ledger.Gauges = MeasureHugeMappings;
    }

    /// <summary>
    /// What every huge-page strategy reports (table T): its split and collapse counters even when zero, the share
    /// of `thp: true` guest memory the VMM maps with 2 MiB leaves (per mille), how much of it the VMM maps at all, the
    /// VMM's page-table bytes, and the TLB entries needed to cover what it maps (one per present leaf).
    /// </summary>
    private void MeasureHugeMappings(IDictionary<string, long> into)
    {
        foreach (var kind in (ReadOnlySpan<CostKind>)[CostKind.ThpSplit, CostKind.ThpSplitFailed, CostKind.ThpCollapse, CostKind.ThpPmdRemap])
            into.TryAdd(kind.ToString(), 0);
        ulong guestBytes = 0, hugeBytes = 0, mappedBytes = 0;
        long entries = 0;
        foreach (var vm in _kernel.Kvm.VmList)
        {
            if (!vm.Info.Thp) continue;
            guestBytes += vm.Info.MemoryBytes;
            var start = vm.Info.HvaBase.Value;
            _kernel.Vmm.PageTable.Visit(start, start + vm.Info.MemoryBytes, (_, entry, size) =>
            {
                if (!entry.IsPresent) return true;
                entries++;
                mappedBytes += size == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize;
                if (size == MappingSize.Size2M) hugeBytes += PageGeometry.HugeSize;
                return true;
            });
        }
        into["ThpHugeMappedPermille"] = guestBytes == 0 ? 0 : (long)(hugeBytes * 1000 / guestBytes);
        into["ThpTlbReachEntries"] = entries;
        into["ThpVmmMappedKiB"] = (long)(mappedBytes >> 10);
        into["VmmPageTableBytes"] = _kernel.Vmm.PageTable.TablePages * PageGeometry.PageSize;
    }

    /// <summary>
    /// Defence behind the parser's limits: the VMs' sizes must not wrap when added, and the host must fit the
    /// frame table (at most 64 TiB), so no machine type is asked for more than it can hold.
    /// </summary>
    private static void CheckHostFits(Scenario scenario, ulong host)
    {
        var location = new SourceLocation(scenario.File, 0, 0);
        var total = 0UL;
        foreach (var vm in scenario.Vms)
        {
            if (vm.Memory > MaxHostBytes - total)
                throw new ScenarioException($"the VMs' memory adds up to more than 64T (vm '{vm.Name}' brings it past {MaxHostBytes} bytes); the host holds at most 64T, so make the VMs smaller", vm.Location);
            total += vm.Memory;
        }
        if (host > MaxHostBytes)
            throw new ScenarioException($"host memory of {host} bytes is more than 64T, the largest host the simulator models; lower host.memory to 64T or less", location);
    }

    /// <summary>64 TiB: 2^34 frames of 4 KiB, what the frame table holds.</summary>
    private const ulong MaxHostBytes = (ulong)FrameTable.MaxFrames << PageGeometry.PageShift;

    public Scenario Scenario { get; }
    public SimulationComponents Components { get; }
    public CostLedger Ledger { get; }
    public IReadOnlyList<string> Warnings => _kernel.WarningLog;
    /// <summary>True after an outcome that ends the machine (host-panic, shutdown).</summary>
    public bool Ended { get; private set; }

    /// <summary>Kernel events of the last step (signals, panics), for reports.</summary>
    public IReadOnlyList<KernelEvent> LastEvents => _kernel.Events;

    /// <summary>The pfns the last step reached that lost err follows (see <see cref="StepResult.Frames"/>).</summary>
    public IReadOnlyList<ulong> LastFrames => _kernel.StepFrames.Frames;

    /// <summary>Memory the simulator itself holds for frame contents, per-frame metadata and the rmap, in bytes (page tables: <see cref="PageTableBytes"/>).</summary>
    public long FootprintBytes => _kernel.Mm.PhysicalMemory.FootprintBytes + _kernel.Mm.Frames.FootprintBytes + _kernel.Mm.Rmap.FootprintBytes;

    /// <summary>Bytes of page-table pages in every host process and every EPT (4 KiB each).</summary>
    public long PageTableBytes => (_kernel.Processes.Sum(p => p.PageTable.TablePages) + _kernel.Kvm.VmList.Sum(v => v.Ept.TablePages)) * PageGeometry.PageSize;

    internal HostKernel Kernel => _kernel;

    /// <summary>Runs one step. Bad arguments (unknown VM, missing address) throw <see cref="ScenarioException"/>.</summary>
    public Outcome Execute(StepSpec step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (Ended) return Outcome.NotRun;
        _kernel.Events.Clear();
        _kernel.StepFrames.Clear();
        return Resolve(step.Op.Execute(new OpContext(this, step)));
    }

    /// <summary>Kernel work outside any op, resolved as a step (tests call kernel entry points for other processes through it).</summary>
    internal Outcome Run(Func<KernelResult> kernelWork)
    {
        _kernel.Events.Clear();
        return Resolve(kernelWork());
    }

    private Outcome Resolve(in KernelResult result)
    {
        var outcome = _resolver.Resolve(result, _kernel.Events, _kernel.Vmm.Pid);
        Ended = _kernel.Dead;
        return outcome;
    }
}
