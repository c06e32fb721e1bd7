namespace Vmm.Abstractions;

/// <summary>
/// Turns kernel-level events into what the outside observes: a SIGBUS with si_code and lsb, a vMCE
/// injected into the guest, a KVM exit, a host panic, a shutdown. Supplied by plugins ("linux", "vmce").
/// </summary>
public interface IFaultDelivery
{
    /// <summary>The outcome the step reports for this event.</summary>
    Outcome Deliver(in KernelEvent kernelEvent);
}
