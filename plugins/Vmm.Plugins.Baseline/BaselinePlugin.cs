using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Plugins.Baseline.BounceWrites;
using Vmm.Plugins.Baseline.KvmExit;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;
using Vmm.Plugins.Baseline.ProtNone;
using Vmm.Plugins.Baseline.Vmce;

namespace Vmm.Plugins.Baseline;

/// <summary>The baseline every comparison starts from; also the model for writing a plugin.</summary>
public sealed class BaselinePlugin : IVmmPlugin
{
    public string Name => "Baseline";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IMemoryController, PlainMemoryController>(ComponentKind.Memory, "plain",
            "Ordinary DRAM: no encryption, no integrity; uncorrectable errors poison lines (H1, H7, H8, H14).");
        services.AddVmmComponent<IPrivateMemoryPolicy, NonePolicy>(ComponentKind.Policy, "none",
            "No protection: private pages stay mapped in the VMM (P-none).");
        services.AddVmmComponent<IPrivateMemoryPolicy, ProtNonePolicy>(ComponentKind.Policy, "prot-none",
            "2020 VM_KVM_PROTECTED: protected memory mapped PROT_NONE in the VMM, KVM uses FOLL_KVM (P-prot-none).",
            run => new ProtNonePolicy(run.GetRequiredService<IVmmControl>(), run.GetRequiredService<IKernelLog>()));
        services.AddVmmComponent<IPrivateMemoryPolicy, BounceWritesPolicy>(ComponentKind.Policy, "bounce-writes",
            "Hildenbrand's 2021 alternative: protected memory mapped PROT_READ in the VMM, its stores bounced through a kernel write that refuses private pages (P-bounce-writes).");
        services.AddVmmComponent<IFaultDelivery, LinuxFaultDelivery>(ComponentKind.Faults, "linux",
            "Linux signals as they are: SIGBUS with si_code and lsb to the VMM, guest-killed for a fatal TD.");
        services.AddVmmComponent<IFaultDelivery, KvmExitFaultDelivery>(ComponentKind.Faults, "kvm-exit",
            "A failed guest fault is a synchronous KVM_EXIT_MEMORY_FAULT (flags, gpa, size; EHWPOISON or EFAULT) instead of SIGBUS (F2).");
        services.AddVmmComponent<IFaultDelivery, VmceFaultDelivery>(ComponentKind.Faults, "vmce",
            "The VMM injects a machine check into the guest for an action-required SIGBUS on a vCPU thread, as QEMU does (F3).");
    }
}
