using Vmm.Abstractions;

namespace Vmm.Core.Machine;

internal sealed partial class HostKernel
{
    /// <summary>Raises the event a call faulted with and returns it as the call's result (the outcome resolver delivers it).</summary>
    internal KernelResult Fault(in KernelEvent e)
    {
        Raise(e);
        return KernelResult.FaultedWith(e);
    }

    /// <summary>do_sigbus / bad_area for a user access that the fault handler could not satisfy.</summary>
    internal KernelResult SignalForFault(Process p, ulong va, VmFault fault, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        return fault switch
        {
            VmFault.SigSegv => Fault(new KernelEvent(KernelEventKind.SigSegv, p.Pid, default, new Hva(va), 0, context, vm, "access outside any VMA")),
            VmFault.HwPoison => Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.PageShift, context, vm, "hwpoison entry")),
            VmFault.HwPoisonLarge => Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.HugeShift, context, vm, "hwpoison huge entry")),
            // The fault handler already raised the OOM killer's SIGKILL for this address.
            VmFault.Oom => KernelResult.FaultedWith(FaultHandler.OomKillEvent(p, va)),
            _ => Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, new Hva(va), 0, context, vm, "VM_FAULT_SIGBUS")),
        };
    }

    /// <summary>A user load/store of [va, va+buffer.Length) through the process's page tables (host.read / host.write).</summary>
    internal KernelResult UserAccess(Process p, ulong va, Span<byte> buffer, bool write)
    {
        if (!TryUserAccess(p, va, buffer, write, out var failure)) return failure;
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }

    /// <summary>
    /// <see cref="UserAccess"/> that leaves read data in <paramref name="buffer"/> and returns no outcome on
    /// success: allocation-free once the pages are present (the benchmarked hot path).
    /// </summary>
    internal bool TryUserAccess(Process p, ulong va, Span<byte> buffer, bool write, out KernelResult failure)
    {
        failure = default;
        foreach (var span in new PageSpans(va, buffer))
        {
            var fault = FaultHandler.TranslateUser(p, span.Address, write, out var pfn);
            if (fault != VmFault.Ok)
            {
                failure = SignalForFault(p, span.Address, fault);
                return false;
            }
            var access = new LineAccess(pfn, span.PageOffset, KeyId.Shared, Requester.HostUser);
            var result = write ? Memory.Write(access, span.Chunk) : Memory.Read(access, span.Chunk);
            if (!result.IsOk)
            {
                failure = ConsumedByUser(p, span.Address, pfn, result);
                return false;
            }
            if (write) Mm.Frames.SetFlags(pfn, FrameFlags.Dirty);
        }
        return true;
    }

    /// <summary>H8: a user load consumed poison → #MC → memory_failure(MF_ACTION_REQUIRED) → SIGBUS AR (kill_me_maybe).</summary>
    internal KernelResult ConsumedByUser(Process p, ulong va, Pfn pfn, MemResult result, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        if (result.Status == MemStatus.AccessFault)
            return Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, new Hva(va), 0, context, vm, "ownership check (RMP) fault"));
        CostLedger.Add(CostKind.MachineCheck);
        var before = Events.Count;
        var rc = MemoryFailure.Handle(pfn, actionRequired: true, current: p, currentVa: va, context: context, vm: vm);
        if (SignalSince(before, p) is { } sent) return KernelResult.FaultedWith(sent);
        // memory_failure panicked the host (recovery off): nothing is signalled, and the resolver makes the panic the outcome.
        if (Dead) return Outcome.Ok();
        // kill_me_maybe: memory_failure failed (not EHWPOISON): kill_me_now → force_sig(SIGBUS).
        return Fault(KernelEvent.SigBus(p.Pid, rc is Errno.EHWPOISON or 0 ? SigBusCode.BUS_MCEERR_AR : SigBusCode.BUS_ADRERR,
            new Hva(va), rc is Errno.EHWPOISON or 0 ? PageGeometry.PageShift : 0, context, vm, $"memory_failure returned {rc}"));
    }

    /// <summary>The first SIGBUS or SIGKILL raised for <paramref name="p"/> since event <paramref name="since"/>: what memory_failure already sent the consumer.</summary>
    private KernelEvent? SignalSince(int since, Process p)
    {
        for (var i = since; i < Events.Count; i++)
            if (Events[i].Pid == p.Pid && Events[i].Kind is KernelEventKind.SigBus or KernelEventKind.SigKill) return Events[i];
        return null;
    }

    /// <summary>
    /// A host kernel load/store through the direct map; poison consumed here panics the host (H7). With
    /// <see cref="Requester.Seam"/> it is the TDX module using the TD's KeyID: consumed poison is the
    /// platform's unbreakable shutdown (H9).
    /// </summary>
    internal KernelResult KernelAccess(Pfn pfn, int offset, Span<byte> buffer, bool write, Requester requester = Requester.HostKernel, KeyId key = default)
    {
        foreach (var span in new PageSpans((ulong)offset, buffer))
        {
            var frame = pfn.Add((long)span.PageIndex);
            var access = new LineAccess(frame, span.PageOffset, key, requester);
            var result = write ? Memory.Write(access, span.Chunk) : Memory.Read(access, span.Chunk);
            if (!result.IsOk)
            {
                if (requester == Requester.Device) return Outcome.Error(Errno.EIO); // H14: the transfer fails
                if (requester == Requester.Seam)
                {
                    CostLedger.Add(CostKind.MachineCheck);
                    return Fault(KernelEvent.Of(KernelEventKind.Shutdown, $"#MC in SEAM root: poison consumed by the TDX module at {frame} line {result.Line}; TDX is disabled"));
                }
                if (result.Status == MemStatus.AccessFault)
                    return Fault(KernelEvent.Of(KernelEventKind.HostPanic, $"kernel oops: RMP fault on {frame}"));
                CostLedger.Add(CostKind.MachineCheck);
                return Fault(KernelEvent.Of(KernelEventKind.HostPanic, $"poison consumed in kernel context at {frame} line {result.Line}"));
            }
        }
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }
}
