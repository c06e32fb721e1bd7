using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine;

/// <summary>One run of a scenario on a fresh simulated host: create the VMs, then execute steps in order.</summary>
public sealed class Simulation
{
    /// <summary>Host memory added to the VMs' memory when the scenario does not say `host.memory`.</summary>
    public const ulong DefaultHostHeadroom = ScenarioLimits.DefaultHostHeadroom;

    private readonly HostKernel _kernel;

    public Simulation(Scenario scenario, SimulationComponents components)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(components);
        Scenario = scenario;
        Components = components;
        Ledger = new CostLedger(components.Costs);
        var vmBytes = 0UL;
        foreach (var vm in scenario.Vms) vmBytes += vm.Memory;
        var host = scenario.HostMemory ?? ScenarioLimits.DefaultHostMemory(vmBytes);
        if (host < vmBytes && scenario.HostMemory is not null)
            throw new ScenarioException($"host.memory ({host} bytes) is smaller than the VMs' memory ({vmBytes} bytes); raise host.memory or leave it out", new SourceLocation(scenario.File, 0, 0));
        CheckHostFits(scenario, host);
        var frames = (long)(((host + PageGeometry.HugeSize - 1) & ~(PageGeometry.HugeSize - 1)) >> PageGeometry.PageShift);
        _kernel = new HostKernel(frames, components, scenario.Kernel, Ledger);
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
            if (vm.Memory > Process.UserSpaceEnd - _kernel.Vmm.MmapCursor)
                throw new ScenarioException($"vm '{vm.Name}' ({vm.Memory} bytes) does not fit the VMM's address space: VMs are mapped from 0x{Process.MmapBase:x}, each at the next 1 GiB boundary, and user space ends at 0x{Process.UserSpaceEnd:x}, so the VMs' memory, each rounded up to 1G, must total at most 1T; make the VMs smaller or fewer", vm.Location);
            try
            {
                _kernel.CreateVm(vm.Name, vm.Memory, vm.Protected, vm.Backing, vm.Thp);
            }
            catch (ComponentOptionsException e)
            {
                throw new ScenarioException($"vm '{vm.Name}': {e.Message}", vm.Location);
            }
        }
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

    /// <summary>Memory the simulator itself holds for frame contents, per-frame metadata and the rmap, in bytes (page tables: <see cref="PageTableBytes"/>).</summary>
    public long FootprintBytes => _kernel.PhysicalMemory.FootprintBytes + _kernel.Frames.FootprintBytes + _kernel.Rmap.FootprintBytes;

    /// <summary>Bytes of page-table pages in every host process and every EPT (4 KiB each).</summary>
    public long PageTableBytes => (_kernel.Processes.Sum(p => p.PageTable.TablePages) + _kernel.VmList.Sum(v => v.Ept.TablePages)) * PageGeometry.PageSize;

    internal HostKernel Kernel => _kernel;

    /// <summary>Runs one step. Bad arguments (unknown VM, missing address) throw <see cref="ScenarioException"/>.</summary>
    public Outcome Execute(StepSpec step)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (Ended) return Outcome.NotRun;
        _kernel.Events.Clear();
        var outcome = Dispatch(step);
        outcome = Resolve(outcome);
        Ended = _kernel.Dead;
        return outcome;
    }

    /// <summary>A panic or shutdown wins; otherwise a signal the VMM got during an op that itself succeeded.</summary>
    private Outcome Resolve(Outcome outcome)
    {
        if (_kernel.Dead && !outcome.EndsMachine)
        {
            foreach (var e in _kernel.Events)
                if (e.Kind is KernelEventKind.HostPanic or KernelEventKind.Shutdown) return _kernel.Faults.Deliver(e);
        }
        if (!outcome.EndsMachine && outcome.Kind != OutcomeKind.Killed)
        {
            // The OOM killer chose the VMM: whatever the syscall or KVM_RUN would have returned, it dies.
            foreach (var e in _kernel.Events)
                if (e.Pid == _kernel.Vmm.Pid && e.Kind == KernelEventKind.SigKill) return _kernel.Faults.Deliver(e);
        }
        if (outcome.Kind == OutcomeKind.Ok)
        {
            foreach (var e in _kernel.Events)
                if (e.Pid == _kernel.Vmm.Pid && e.Kind is KernelEventKind.SigBus or KernelEventKind.SigKill or KernelEventKind.TdFatal)
                    return _kernel.Faults.Deliver(e);
        }
        return outcome;
    }

    private Outcome Dispatch(StepSpec s)
    {
        switch (s.Op)
        {
            case "guest.read":
            {
                var vm = RequireVm(s);
                return _kernel.GuestAccess(vm, RequireGpa(s, vm), new byte[RequireLen(s)], write: false, s.Shared ?? false);
            }
            case "guest.write":
            {
                var vm = RequireVm(s);
                return _kernel.GuestAccess(vm, RequireGpa(s, vm), RequireData(s), write: true, s.Shared ?? false);
            }
            case "guest.convert":
            {
                var vm = RequireVm(s);
                var to = s.To ?? throw Bad(s, "needs \"to\": \"private\" or \"shared\"");
                return _kernel.Convert(vm, RequireGpa(s, vm), RequireSize(s), to == "private");
            }
            case "vmm.set-attributes":
            {
                var vm = RequireVm(s);
                var rc = _kernel.SetAttributes(vm, RequireGpa(s, vm), RequireSize(s), s.Private ?? throw Bad(s, "needs \"private\": true or false"));
                return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
            }
            case "host.read":
                return VmmAlive() ?? _kernel.UserAccess(_kernel.Vmm, HostAddress(s), new byte[RequireLen(s)], write: false);
            case "host.write":
                return VmmAlive() ?? _kernel.UserAccess(_kernel.Vmm, HostAddress(s), RequireData(s), write: true);
            case "host.gup":
            {
                if (VmmAlive() is { } dead) return dead;
                var taken = new List<Pfn>();
                var n = _kernel.GetUserPages(_kernel.Vmm, HostAddress(s), s.Pages ?? 1, s.Flags, taken, out var error);
                if ((s.Flags & GupFlags.Pin) == 0) _kernel.PutPages(taken);
                return n == 0 ? Outcome.Error(error) : Outcome.OkCount(n);
            }
            case "host.pread":
            {
                var vm = RequireVm(s);
                if (s.BufferGpa is { } target) return ReadIntoGuestBuffer(s, vm, target);
                return _kernel.FileReadWrite(RequireFile(s, vm), s.Offset ?? 0, new byte[RequireLen(s)], write: false);
            }
            case "host.pwrite":
            {
                var vm = RequireVm(s);
                if (s.BufferGpa is { } source) return WriteFromGuestBuffer(s, vm, source);
                return _kernel.FileReadWrite(RequireFile(s, vm), s.Offset ?? 0, RequireData(s), write: true);
            }
            case "host.procmem-read":
                return VmmAlive() ?? _kernel.RemoteAccess(_kernel.Vmm, HostAddress(s), new byte[RequireLen(s)], write: false, procMem: true);
            case "host.procmem-write":
                return VmmAlive() ?? _kernel.RemoteAccess(_kernel.Vmm, HostAddress(s), RequireData(s), write: true, procMem: true);
            case "host.process-vm-readv":
                return VmmAlive() ?? _kernel.RemoteAccess(_kernel.Vmm, HostAddress(s), new byte[RequireLen(s)], write: false, procMem: false);
            case "host.madvise":
                return VmmAlive() ?? _kernel.Madvise(_kernel.Vmm, HostAddress(s), RequireSize(s), s.Advice ?? throw Bad(s, "needs \"advice\""));
            case "host.fallocate":
            {
                var vm = RequireVm(s);
                return _kernel.Fallocate(RequireFile(s, vm), s.Offset ?? 0, RequireSize(s), s.Mode.Contains("PUNCH_HOLE"), s.Mode.Contains("KEEP_SIZE"));
            }
            case "host.mmap-backing":
            {
                if (VmmAlive() is { } dead) return dead;
                var vm = RequireVm(s);
                if (vm.File is null) throw Bad(s, $"vm '{vm.Info.Name}' is anon-backed: there is no file to map");
                if (s.Hva is { } fixedAt && fixedAt % PageGeometry.PageSize != 0) throw Bad(s, $"\"hva\" 0x{fixedAt:x} must be page-aligned (MAP_FIXED)");
                return _kernel.MmapBacking(vm, s.Offset ?? 0, RequireSize(s), s.Hva);
            }
            case "host.munmap":
                return VmmAlive() ?? _kernel.Munmap(_kernel.Vmm, HostAddress(s), RequireSize(s));
            case "host.fork":
                if (VmmAlive() is { } gone) return gone;
                _kernel.Fork(_kernel.Vmm);
                return Outcome.Ok();
            case "host.exit":
                _kernel.Exit(_kernel.Vmm);
                return Outcome.Ok();
            case "kernel.read" when s.Requester == "kvm":
                return KvmCopy(s, new byte[RequireLen(s)], toGuest: false);
            case "kernel.write" when s.Requester == "kvm":
                return KvmCopy(s, RequireData(s), toGuest: true);
            case "kernel.read":
                return FrameAccess(s, new byte[RequireLen(s)], write: false, s.Requester == "seam" ? Requester.Seam : Requester.HostKernel);
            case "kernel.write":
                return FrameAccess(s, RequireData(s), write: true, s.Requester == "seam" ? Requester.Seam : Requester.HostKernel);
            case "device.dma-read":
                Ledger.Add(CostKind.DmaTransfer);
                return FrameAccess(s, new byte[RequireLen(s)], write: false, Requester.Device);
            case "device.dma-write":
                Ledger.Add(CostKind.DmaTransfer);
                return FrameAccess(s, RequireData(s), write: true, Requester.Device);
            case "hw.memory-error":
                return MemoryError(s);
            case "hw.unpoison":
            {
                // /sys/kernel/debug/hwpoison/unpoison-pfn → unpoison_memory().
                var (pfn, _, _) = ResolveFrame(s, create: false);
                if (!pfn.IsValid) return Outcome.Error(Errno.ENXIO);
                var rc = _kernel.Unpoison(pfn);
                return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
            }
            case "hw.flip-bit":
            {
                var (pfn, offset, _) = ResolveFrame(s, create: true);
                if (!pfn.IsValid) return Outcome.Error(Errno.ENOMEM);
                _kernel.Memory.FlipBit(pfn, offset / PageGeometry.LineSize, s.Bit ?? 0);
                return Outcome.Ok();
            }
            case "thp.collapse":
            {
                if (VmmAlive() is { } dead) return dead;
                var rc = _kernel.Collapse(_kernel.Vmm, HostAddress(s));
                return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
            }
            case "thp.split":
            {
                if (VmmAlive() is { } dead) return dead;
                var hva = HostAddress(s);
                var entry = _kernel.Vmm.PageTable.Lookup(hva, out var size);
                if (size != MappingSize.Size2M || !entry.IsPresent) return Outcome.Error(Errno.EINVAL);
                return _kernel.SplitHugePage(entry.Pfn) ? Outcome.Ok() : Outcome.Error(Errno.EBUSY);
            }
            case "vm.destroy":
                _kernel.DestroyVm(RequireVm(s));
                return Outcome.Ok();
            case "inspect":
                return Inspect(s);
            default:
                throw Bad(s, $"unknown op '{s.Op}'");
        }
    }

    /// <summary>pread(fd, buf, ...) whose buffer is the VMM's mapping of guest memory (K6).</summary>
    private Outcome ReadIntoGuestBuffer(StepSpec s, Vm vm, ulong bufferGpa)
    {
        var len = RequireLen(s);
        if (bufferGpa > vm.Info.MemoryBytes || (ulong)len > vm.Info.MemoryBytes - bufferGpa) throw Bad(s, $"bufferGpa 0x{bufferGpa:x}+{len} is outside vm '{vm.Info.Name}'");
        var read = _kernel.FileReadWrite(RequireFile(s, vm), s.Offset ?? 0, new byte[len], write: false);
        if (read.Kind != OutcomeKind.Ok || read.Data is null) return read;
        var copied = _kernel.UserCopy(_kernel.Vmm, vm.Info.HvaBase.Value + bufferGpa, read.Data, toUser: true);
        return copied == 0 && read.Data.Length > 0 ? Outcome.Error(Errno.EFAULT) : Outcome.OkCount(copied);
    }

    /// <summary>pwrite(fd, buf, ...) whose buffer is the VMM's mapping of guest memory (K6).</summary>
    private Outcome WriteFromGuestBuffer(StepSpec s, Vm vm, ulong bufferGpa)
    {
        var len = RequireLen(s);
        if (bufferGpa > vm.Info.MemoryBytes || (ulong)len > vm.Info.MemoryBytes - bufferGpa) throw Bad(s, $"bufferGpa 0x{bufferGpa:x}+{len} is outside vm '{vm.Info.Name}'");
        var buffer = new byte[len];
        var copied = _kernel.UserCopy(_kernel.Vmm, vm.Info.HvaBase.Value + bufferGpa, buffer, toUser: false);
        if (copied == 0) return Outcome.Error(Errno.EFAULT);
        var written = _kernel.FileReadWrite(RequireFile(s, vm), s.Offset ?? 0, buffer.AsSpan(0, copied), write: true);
        return written;
    }

    private Outcome KvmCopy(StepSpec s, byte[] buffer, bool toGuest)
    {
        var vm = RequireVm(s);
        var gpa = RequireGpa(s, vm);
        RequireInside(s, vm, gpa, (ulong)buffer.Length);
        return _kernel.KvmCopy(vm, gpa, buffer, toGuest);
    }

    private Outcome? VmmAlive() => _kernel.Vmm.Alive ? null : Outcome.Error(Errno.ESRCH);

    private Outcome MemoryError(StepSpec s)
    {
        var (pfn, offset, hva) = ResolveFrame(s, create: true);
        if (!pfn.IsValid) return Outcome.Error(Errno.ENOMEM);
        var consumed = s.Consumed ?? false;
        _kernel.Memory.PoisonLine(pfn, offset / PageGeometry.LineSize);
        if (consumed && hva != 0)
        {
            // The VMM consumed it: #MC → kill_me_maybe → memory_failure(MF_ACTION_REQUIRED), SIGBUS either way.
            return _kernel.ConsumedByUser(_kernel.Vmm, hva, pfn, new MemResult(MemStatus.PoisonConsumed, offset / PageGeometry.LineSize));
        }
        if (consumed) Ledger.Add(CostKind.MachineCheck);
        var before = _kernel.Events.Count;
        var rc = _kernel.MemoryFailure(pfn, actionRequired: consumed, current: consumed ? _kernel.Vmm : null, currentVa: hva);
        for (var i = before; i < _kernel.Events.Count; i++)
        {
            var e = _kernel.Events[i];
            if (e.Kind is KernelEventKind.HostPanic or KernelEventKind.Shutdown) return _kernel.Faults.Deliver(e);
            if (e.Pid == _kernel.Vmm.Pid) return _kernel.Faults.Deliver(e);
        }
        return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
    }

    private Outcome FrameAccess(StepSpec s, byte[] buffer, bool write, Requester requester)
    {
        if (s.Pfn is { } rawPfn)
        {
            var pfn = new Pfn(rawPfn);
            if (!_kernel.Frames.IsValid(pfn)) throw Bad(s, $"pfn 0x{rawPfn:x} is outside host memory");
            if (requester == Requester.Seam) throw Bad(s, "with \"requester\": \"seam\" needs \"vm\" and \"gpa\" (the TDX module uses that TD's KeyID)");
            var inFrame = (int)((s.Offset ?? 0) & (PageGeometry.PageSize - 1));
            var lastFrame = pfn.Value + (((ulong)inFrame + (ulong)buffer.Length - 1) >> PageGeometry.PageShift);
            if (!_kernel.Frames.IsValid(new Pfn(lastFrame)))
                throw Bad(s, $"pfn 0x{rawPfn:x} with len {buffer.Length} runs past the end of host memory ({_kernel.Frames.Count} frames); shorten len");
            return _kernel.KernelAccess(pfn, inFrame, buffer, write, requester);
        }
        var vm = RequireVm(s);
        var gpa = RequireGpa(s, vm);
        RequireInside(s, vm, gpa, (ulong)buffer.Length);
        // The TDX module touches TD memory with the TD's private KeyID; everything else uses the shared one.
        var key = requester == Requester.Seam ? vm.Info.PrivateKey : KeyId.Shared;
        var done = 0;
        while (done < buffer.Length)
        {
            var addr = gpa + (ulong)done;
            var offset = (int)(addr & (PageGeometry.PageSize - 1));
            var chunk = Math.Min(buffer.Length - done, PageGeometry.PageSize - offset);
            var pfn = _kernel.FrameOf(vm.Info.Id, new Gfn(addr >> PageGeometry.PageShift));
            if (!pfn.IsValid)
            {
                if (!write)
                {
                    done += chunk; // an unpopulated guest page: nothing to read but zeros
                    continue;
                }
                pfn = Populate(vm, addr, s);
                if (!pfn.IsValid) return Outcome.Error(Errno.ENOMEM);
            }
            var result = _kernel.KernelAccess(pfn, offset, buffer.AsSpan(done, chunk), write, requester, key);
            if (result.Kind != OutcomeKind.Ok) return result;
            done += chunk;
        }
        return write ? Outcome.Ok() : Outcome.OkData(buffer);
    }

    /// <summary>The frame behind a step's vm+gpa or pfn, with the offset in it and the VMM's hva (0 without a VM).</summary>
    private (Pfn Pfn, int Offset, ulong Hva) ResolveFrame(StepSpec s, bool create)
    {
        if (s.Pfn is { } rawPfn)
        {
            var pfn = new Pfn(rawPfn);
            if (!_kernel.Frames.IsValid(pfn)) throw Bad(s, $"pfn 0x{rawPfn:x} is outside host memory");
            var mapping = _kernel.Mappings(pfn);
            var hva = mapping.FirstOrDefault(m => m.Pid == _kernel.Vmm.Pid).Hva.Value;
            return (pfn, (int)((s.Offset ?? 0) & (PageGeometry.PageSize - 1)), hva);
        }
        var vm = RequireVm(s);
        var gpa = RequireGpa(s, vm);
        var frame = _kernel.FrameOf(vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
        if (!frame.IsValid && create) frame = Populate(vm, gpa, s);
        return (frame, (int)(gpa & (PageGeometry.PageSize - 1)), vm.Info.HvaBase.Value + gpa);
    }

    /// <summary>
    /// Faults a guest page in through the VMM's mapping so that a frame exists behind it; Pfn.Invalid when
    /// the host is out of memory (the OOM killer's SIGKILL to the VMM is then the step's outcome).
    /// </summary>
    private Pfn Populate(Vm vm, ulong gpa, StepSpec s)
    {
        var taken = new List<Pfn>();
        var hva = vm.Info.HvaBase.Value + gpa;
        if (_kernel.GetUserPages(_kernel.Vmm, hva, 1, GupFlags.Write | GupFlags.Force | GupFlags.AllowPoisoned, taken, out var error) == 0)
        {
            if (error == Errno.ENOMEM) return Pfn.Invalid;
            throw Bad(s, $"gpa 0x{gpa:x} of vm '{vm.Info.Name}' has no frame and cannot be populated ({error}); touch it first");
        }
        _kernel.PutPages(taken);
        return _kernel.FrameOf(vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
    }

    private Outcome Inspect(StepSpec s)
    {
        var state = new Dictionary<string, object?>(StringComparer.Ordinal);
        Pfn pfn;
        Vm? vm = null;
        ulong gpa = 0;
        if (s.Pfn is { } rawPfn && s.Vm is null)
        {
            pfn = new Pfn(rawPfn);
            if (!_kernel.Frames.IsValid(pfn)) throw Bad(s, $"pfn 0x{rawPfn:x} is outside host memory");
        }
        else
        {
            vm = RequireVm(s);
            gpa = RequireGpa(s, vm);
            pfn = _kernel.FrameOf(vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
        }
        var valid = pfn.IsValid;
        var head = valid ? _kernel.Head(pfn) : pfn;
        var flags = valid ? _kernel.Frames.Flags(pfn) | (_kernel.Frames.Flags(head) & FrameFlags.HwPoison) : FrameFlags.None;
        state["pfn"] = valid ? $"0x{pfn.Value:x}" : null;
        state["hwpoison"] = (flags & FrameFlags.HwPoison) != 0;
        state["private"] = vm is not null ? vm.IsPrivate(new Gfn(gpa >> PageGeometry.PageShift)) || (flags & FrameFlags.Private) != 0 : (flags & FrameFlags.Private) != 0;
        if (vm is not null)
        {
            var size = MappingSize.Size4K;
            var entry = _kernel.Vmm.Alive ? _kernel.Vmm.PageTable.Lookup(vm.Info.HvaBase.Value + gpa, out size) : PteValue.None;
            var leafSize = entry.IsNone ? MappingSize.Size4K : size;
            state["hostMapped"] = entry.IsPresent;
            state["hwpoisonEntry"] = entry.IsHwPoison;
            state["huge"] = leafSize == MappingSize.Size2M && (entry.IsPresent || entry.IsHwPoison);
            state["pte"] = entry.ToString();
            state["ept"] = !vm.Ept.Lookup(gpa, out _).IsNone;
        }
        else
        {
            state["hostMapped"] = valid && _kernel.MapCount(pfn) > 0;
            state["hwpoisonEntry"] = false;
            state["huge"] = valid && (flags & FrameFlags.Compound) != 0;
        }
        var owner = valid ? _kernel.Frames.Owner(pfn) : VmId.None;
        state["owner"] = owner.IsNone || owner.Value >= _kernel.VmList.Count ? null : _kernel.VmList[owner.Value].Info.Name;
        state["lines"] = new Dictionary<string, object?> { ["poisoned"] = valid ? _kernel.Memory.PoisonedLineCount(pfn) : 0 };
        state["refcount"] = valid ? _kernel.RefCount(pfn) : 0;
        state["mapcount"] = valid ? _kernel.MapCount(pfn) : 0;
        return Outcome.Inspected(state);
    }

    private Vm RequireVm(StepSpec s)
    {
        var name = s.Vm ?? throw Bad(s, "needs \"vm\"");
        return _kernel.FindVm(name) ?? throw Bad(s, $"names vm '{name}', which the scenario does not declare");
    }

    private static ulong RequireGpa(StepSpec s, Vm vm)
    {
        var gpa = s.Gpa ?? throw Bad(s, "needs \"gpa\"");
        if (gpa >= vm.Info.MemoryBytes) throw Bad(s, $"gpa 0x{gpa:x} is outside vm '{vm.Info.Name}' (memory 0x{vm.Info.MemoryBytes:x})");
        return gpa;
    }

    /// <summary>[gpa, gpa+len) must lie in the VM: past its end lies another mapping's memory, not this VM's frames.</summary>
    private static void RequireInside(StepSpec s, Vm vm, ulong gpa, ulong len)
    {
        if (gpa > vm.Info.MemoryBytes || len > vm.Info.MemoryBytes - gpa)
            throw Bad(s, $"gpa 0x{gpa:x}+{len} reaches past the end of vm '{vm.Info.Name}' (memory 0x{vm.Info.MemoryBytes:x}); keep gpa+len inside the VM");
    }

    private ulong HostAddress(StepSpec s)
    {
        if (s.Hva is { } hva) return hva;
        if (s.Vm is not null && s.Gpa is not null)
        {
            var vm = RequireVm(s);
            return vm.Info.HvaBase.Value + RequireGpa(s, vm);
        }
        throw Bad(s, "needs \"hva\", or \"vm\" and \"gpa\"");
    }

    private static BackingFile RequireFile(StepSpec s, Vm vm)
        => vm.GuestMemfd ?? vm.File ?? throw Bad(s, $"vm '{vm.Info.Name}' is anon-backed: there is no backing file; use backing shmem, hugetlb, file or guest-memfd");

    private static int RequireLen(StepSpec s)
    {
        var len = s.Len ?? throw Bad(s, "needs \"len\"");
        if (len == 0 || len > 64UL << 20) throw Bad(s, "\"len\" must be between 1 and 64M");
        return (int)len;
    }

    private static ulong RequireSize(StepSpec s) => s.Size ?? throw Bad(s, "needs \"size\"");

    private static byte[] RequireData(StepSpec s) => (byte[])(s.Data ?? throw Bad(s, "needs \"data\"")).Clone();

    private static ScenarioException Bad(StepSpec s, string message) => new($"step {s.Index} ({s.Op}) {message}", s.Location);
}
