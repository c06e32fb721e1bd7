using System.Diagnostics.CodeAnalysis;
using Vmm.Abstractions;

namespace Vmm.Core.Machine;

internal sealed partial class HostKernel
{
    /// <summary>Raises an event and returns what fault delivery makes of it.</summary>
    internal Outcome Deliver(in KernelEvent e)
    {
        Raise(e);
        return Faults.Deliver(e);
    }

    /// <summary>do_sigbus / bad_area for a user access that the fault handler could not satisfy.</summary>
    internal Outcome SignalForFault(Process p, ulong va, VmFault fault, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        return fault switch
        {
            VmFault.SigSegv => Deliver(new KernelEvent(KernelEventKind.SigSegv, p.Pid, default, new Hva(va), 0, context, vm, "access outside any VMA")),
            VmFault.HwPoison => Deliver(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.PageShift, context, vm, "hwpoison entry")),
            VmFault.HwPoisonLarge => Deliver(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.HugeShift, context, vm, "hwpoison huge entry")),
            VmFault.Oom => Faults.Deliver(LastOomKill(p) ?? new KernelEvent(KernelEventKind.SigKill, p.Pid, default, new Hva(va), 0, context, vm, "out of memory")),
            _ => Deliver(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, new Hva(va), 0, context, vm, "VM_FAULT_SIGBUS")),
        };
    }

    /// <summary>The SIGKILL the OOM killer sent <paramref name="p"/> during this step (HandleMmFault raised it).</summary>
    private KernelEvent? LastOomKill(Process p)
    {
        for (var i = Events.Count - 1; i >= 0; i--)
            if (Events[i].Kind == KernelEventKind.SigKill && Events[i].Pid == p.Pid) return Events[i];
        return null;
    }

    /// <summary>A user load/store of [va, va+buffer.Length) through the process's page tables (host.read / host.write).</summary>
    internal Outcome UserAccess(Process p, ulong va, Span<byte> buffer, bool write)
    {
        if (!TryUserAccess(p, va, buffer, write, out var failure)) return failure;
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }

    /// <summary>
    /// <see cref="UserAccess"/> that leaves read data in <paramref name="buffer"/> and returns no outcome on
    /// success: allocation-free once the pages are present (the benchmarked hot path).
    /// </summary>
    internal bool TryUserAccess(Process p, ulong va, Span<byte> buffer, bool write, [NotNullWhen(false)] out Outcome? failure)
    {
        failure = null;
        var done = 0;
        while (done < buffer.Length)
        {
            var addr = va + (ulong)done;
            var offset = (int)(addr & (PageGeometry.PageSize - 1));
            var chunk = Math.Min(buffer.Length - done, PageGeometry.PageSize - offset);
            var fault = TranslateUser(p, addr, write, out var pfn);
            if (fault != VmFault.Ok)
            {
                failure = SignalForFault(p, addr, fault);
                return false;
            }
            var access = new LineAccess(pfn, offset, KeyId.Shared, Requester.HostUser);
            var result = write ? Memory.Write(access, buffer.Slice(done, chunk)) : Memory.Read(access, buffer.Slice(done, chunk));
            if (!result.IsOk)
            {
                failure = ConsumedByUser(p, addr, pfn, result);
                return false;
            }
            if (write) Frames.SetFlags(pfn, FrameFlags.Dirty);
            done += chunk;
        }
        return true;
    }

    /// <summary>H8: a user load consumed poison → #MC → memory_failure(MF_ACTION_REQUIRED) → SIGBUS AR (kill_me_maybe).</summary>
    internal Outcome ConsumedByUser(Process p, ulong va, Pfn pfn, MemResult result, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        if (result.Status == MemStatus.AccessFault)
            return Deliver(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, new Hva(va), 0, context, vm, "ownership check (RMP) fault"));
        CostLedger.Add(CostKind.MachineCheck);
        var before = Events.Count;
        var rc = MemoryFailure(pfn, actionRequired: true, current: p, currentVa: va, context: context, vm: vm);
        for (var i = before; i < Events.Count; i++)
        {
            var e = Events[i];
            if (e.Kind is KernelEventKind.HostPanic or KernelEventKind.Shutdown) return Faults.Deliver(e);
            if (e.Pid == p.Pid && e.Kind is KernelEventKind.SigBus or KernelEventKind.SigKill) return Faults.Deliver(e);
        }
        // kill_me_maybe: memory_failure failed (not EHWPOISON): kill_me_now → force_sig(SIGBUS).
        return Deliver(KernelEvent.SigBus(p.Pid, rc is Errno.EHWPOISON or 0 ? SigBusCode.BUS_MCEERR_AR : SigBusCode.BUS_ADRERR,
            new Hva(va), rc is Errno.EHWPOISON or 0 ? PageGeometry.PageShift : 0, context, vm, $"memory_failure returned {rc}"));
    }

    /// <summary>
    /// A host kernel load/store through the direct map; poison consumed here panics the host (H7). With
    /// <see cref="Requester.Seam"/> it is the TDX module using the TD's KeyID: consumed poison is the
    /// platform's unbreakable shutdown (H9).
    /// </summary>
    internal Outcome KernelAccess(Pfn pfn, int offset, Span<byte> buffer, bool write, Requester requester = Requester.HostKernel, KeyId key = default)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var frame = pfn.Add((offset + done) >> PageGeometry.PageShift);
            var inPage = (offset + done) & (PageGeometry.PageSize - 1);
            var chunk = Math.Min(buffer.Length - done, PageGeometry.PageSize - inPage);
            var access = new LineAccess(frame, inPage, key, requester);
            var result = write ? Memory.Write(access, buffer.Slice(done, chunk)) : Memory.Read(access, buffer.Slice(done, chunk));
            if (!result.IsOk)
            {
                if (requester == Requester.Device) return Outcome.Error(Errno.EIO); // H14: the transfer fails
                if (requester == Requester.Seam)
                {
                    CostLedger.Add(CostKind.MachineCheck);
                    return Deliver(KernelEvent.Of(KernelEventKind.Shutdown, $"#MC in SEAM root: poison consumed by the TDX module at {frame} line {result.Line}; TDX is disabled"));
                }
                if (result.Status == MemStatus.AccessFault)
                    return Deliver(KernelEvent.Of(KernelEventKind.HostPanic, $"kernel oops: RMP fault on {frame}"));
                CostLedger.Add(CostKind.MachineCheck);
                return Deliver(KernelEvent.Of(KernelEventKind.HostPanic, $"poison consumed in kernel context at {frame} line {result.Line}"));
            }
            done += chunk;
        }
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }
}
