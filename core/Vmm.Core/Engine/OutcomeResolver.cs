using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine;

/// <summary>
/// The one place that chooses a step's outcome, from what the op's kernel call returned and the kernel events the
/// step raised (docs/scenario-format.md, "Outcomes" under "Details the contract leaves to the engine"). The run's <see cref="IFaultDelivery"/> is asked about one
/// event per step at most, never twice. Precedence, the first rule that matches wins:
/// <list type="number">
/// <item>an event that ends the machine (host panic, shutdown): the first one raised;</item>
/// <item>a SIGKILL the VMM received (the OOM killer chose it): whatever the syscall or KVM_RUN would have returned, it dies;</item>
/// <item>the event the op itself faulted with (the signal of a load or store, kvm_send_hwpoison_signal, a fatal TD);</item>
/// <item>a SIGBUS the VMM received, or a fatal TD, raised during the step (memory_failure's kill, early kill, a
/// policy's report): the first one, over the op's errno, data or count (K19: the signal is the outcome even where
/// madvise would also return an errno);</item>
/// <item>the op's own result. Paths that by the spec return an errno or a short count and signal nobody (K4–K8:
/// GUP, copy_to_user, /proc/pid/mem, process_vm_readv) raise no event, so their errno stands.</item>
/// </list>
/// </summary>
internal sealed class OutcomeResolver
{
    private readonly IFaultDelivery _faults;

    public OutcomeResolver(IFaultDelivery faults) => _faults = faults;

    public Outcome Resolve(in KernelResult result, IReadOnlyList<KernelEvent> events, int vmmPid)
    {
        foreach (var e in events)
            if (e.Kind is KernelEventKind.HostPanic or KernelEventKind.Shutdown) return _faults.Deliver(e);
        foreach (var e in events)
            if (e.Kind == KernelEventKind.SigKill && e.Pid == vmmPid) return _faults.Deliver(e);
        if (result.Faulted) return _faults.Deliver(result.Fault);
        foreach (var e in events)
            if (e.Pid == vmmPid && e.Kind is KernelEventKind.SigBus or KernelEventKind.TdFatal) return _faults.Deliver(e);
        return result.Value!;
    }
}
