using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Plugins.Workloads;

/// <summary>Seeded, deterministic workloads for <c>vmm compare</c>; options are "WORKLOAD.option" (e.g. "boot.pages").</summary>
public sealed class WorkloadsPlugin : IVmmPlugin
{
    public string Name => "Workloads";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IWorkload, BootWorkload, WorkloadOptions>(ComponentKind.Workload, "boot",
            "The guest writes secrets into its memory, shares DMA buffers a device fills, and reads everything back.");
        services.AddVmmComponent<IWorkload, VirtioIoWorkload, RoundsOptions>(ComponentKind.Workload, "virtio-io",
            "A shared ring and bounce buffers: the VMM reads requests and writes replies; the guest converts each buffer to shared and back.");
        services.AddVmmComponent<IWorkload, PreallocWorkload, WorkloadOptions>(ComponentKind.Workload, "prealloc",
            "The VMM pre-faults guest memory before boot (NUMA placement), then the guest goes private and writes its secrets.");
        services.AddVmmComponent<IWorkload, VmmDumpWorkload, WorkloadOptions>(ComponentKind.Workload, "vmm-dump",
            "The VMM reads all the guest memory that was touched, as a core dump or a naive migration does.");
        services.AddVmmComponent<IWorkload, MaliciousVmmWorkload, WorkloadOptions>(ComponentKind.Workload, "malicious-vmm",
            "The VMM and host-kernel paths read and write private memory: loads, stores, GUP, /proc/pid/mem, process_vm_readv, read(2), DMA, KVM's copy, the direct map.");
        services.AddVmmComponent<IWorkload, MemoryErrorsWorkload, RoundsOptions>(ComponentKind.Workload, "memory-errors",
            "Real uncorrectable errors at random guest pages, some consumed at once; then the guest reads its memory back.");
        services.AddVmmComponent<IWorkload, DiscardWorkload, WorkloadOptions>(ComponentKind.Workload, "discard",
            "The guest balloons pages away; the VMM punches holes and drops its mappings; the guest uses the pages again.");
        services.AddVmmComponent<IWorkload, TwoVmsWorkload, WorkloadOptions>(ComponentKind.Workload, "two-vms",
            "One VMM maps the same backing into two VMs: td1 writes secrets, td2 and KVM's copy for td2 touch the same gfns, td1 reads its data back.");
        services.AddVmmComponent<IWorkload, ThpHeavyWorkload, ThpHeavyOptions>(ComponentKind.Workload, "thp-heavy",
            "An anonymous guest the VMM pre-faults with THPs shares scattered 4 KiB pages, whole 2 MiB regions it touched privately first, or both (thp-heavy.sharing); the VMM reads what is shared.");
    }
}
