using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Core.Machine;

/// <summary>
/// User loads and stores through a process's page tables (copy_from_user / copy_to_user and the faults they
/// take): what the fault handler cannot satisfy becomes the signal of arch/x86/mm/fault.c (do_sigbus,
/// bad_area), and consumed poison becomes the #MC path's kill_me_maybe.
/// </summary>
internal sealed class Uaccess(HostKernel kernel)
{
    /// <summary>A user load/store of [va, va+buffer.Length) (host.read / host.write).</summary>
    internal KernelResult UserAccess(Process p, Hva va, Span<byte> buffer, bool write)
    {
        if (!TryUserAccess(p, va, buffer, write, out var failure)) return failure;
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }

    /// <summary>
    /// <see cref="UserAccess"/> that leaves read data in <paramref name="buffer"/> and returns no outcome on
    /// success: allocation-free once the pages are present (the benchmarked hot path).
    /// </summary>
    internal bool TryUserAccess(Process p, Hva va, Span<byte> buffer, bool write, out KernelResult failure)
    {
        failure = default;
        foreach (var span in new PageSpans(va.Value, buffer))
        {
        restart:
            var fault = kernel.FaultHandler.TranslateUser(p, span.Address, write, out var pfn);
            if (fault != VmFault.Ok)
            {
                failure = SignalForFault(p, span.Address, fault);
                return false;
            }
            // The translation just filled the TLB: its leaf size tells the RMP check whether a 2 MiB mapping is used (H17).
            var huge = p.Tlb.TryLookup(span.Address, out _, out var leaf) && leaf == MappingSize.Size2M;
            var access = new LineAccess(pfn, span.PageOffset, KeyId.Shared, Requester.HostUser, huge ? AccessFlags.HugeMapping : AccessFlags.None);
            kernel.StepFrames.Note(pfn);
            var result = write ? kernel.Memory.Write(access, span.Chunk) : kernel.Memory.Read(access, span.Chunk);
            if (!result.IsOk)
            {
                failure = ConsumedByUser(p, new Hva(span.Address), pfn, result);
                if (Restarts(failure)) goto restart;
                return false;
            }
            if (write) kernel.Mm.Frames.SetFlags(pfn, FrameFlags.Dirty);
        }
        return true;
    }

    /// <summary>do_sigbus / bad_area for a user access that the fault handler could not satisfy.</summary>
    private KernelResult SignalForFault(Process p, ulong va, VmFault fault, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        return fault switch
        {
            VmFault.SigSegv => kernel.Fault(new KernelEvent(KernelEventKind.SigSegv, p.Pid, default, new Hva(va), 0, context, vm, "access outside any VMA")),
            VmFault.HwPoison => kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.PageShift, context, vm, "hwpoison entry")),
            VmFault.HwPoisonLarge => kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.HugeShift, context, vm, "hwpoison huge entry")),
            // The fault handler already raised the OOM killer's SIGKILL for this address.
            VmFault.Oom => KernelResult.FaultedWith(FaultHandler.OomKillEvent(p, va)),
            _ => kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, new Hva(va), 0, context, vm, "VM_FAULT_SIGBUS")),
        };
    }

    /// <summary>H8: a user load consumed poison → #MC → memory_failure(MF_ACTION_REQUIRED) → SIGBUS AR (kill_me_maybe).</summary>
    internal KernelResult ConsumedByUser(Process p, Hva va, Pfn pfn, MemResult result, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        if (result.Status == MemStatus.AccessFault)
            return kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, va, 0, context, vm, "ownership check (RMP) fault"));
        kernel.CostLedger.Add(CostKind.MachineCheck);
        var before = kernel.Events.Count;
        var rc = kernel.MemoryFailure.Handle(pfn, actionRequired: true, current: p, currentVa: va, context: context, vm: vm);
        if (SignalSince(before, p) is { } sent) return KernelResult.FaultedWith(sent);
        // memory_failure panicked the host (recovery off): nothing is signalled, and the resolver makes the panic the outcome.
        if (kernel.Dead) return Outcome.Ok();
        // K11a: a clean file page was dropped and nobody signalled; kill_me_maybe returns and the access restarts.
        if (rc == 0 && kernel.MemoryFailure.DroppedCleanPage) return Outcome.Ok();
        // kill_me_maybe: EHWPOISON (already poisoned) still reports the address; any other failure is kill_me_now,
        // a plain force_sig(SIGBUS): si_code SI_KERNEL, no address, no lsb (K29).
        if (rc is Errno.EHWPOISON or 0)
            return kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, va, PageGeometry.PageShift, context, vm, $"memory_failure returned {rc}"));
        return kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.SI_KERNEL, default, 0, context, vm, $"memory_failure returned {rc}: kill_me_now"));
    }

    /// <summary>The consumed error was recovered without a signal (K11a): the faulting access runs again and refaults the page.</summary>
    internal bool Restarts(in KernelResult consumed) => consumed.IsOk && !kernel.Dead && kernel.MemoryFailure.DroppedCleanPage;

    /// <summary>The first SIGBUS or SIGKILL raised for <paramref name="p"/> since event <paramref name="since"/>: what memory_failure already sent the consumer.</summary>
    private KernelEvent? SignalSince(int since, Process p)
    {
        var events = kernel.Events;
        for (var i = since; i < events.Count; i++)
            if (events[i].Pid == p.Pid && events[i].Kind is KernelEventKind.SigBus or KernelEventKind.SigKill) return events[i];
        return null;
    }
}
