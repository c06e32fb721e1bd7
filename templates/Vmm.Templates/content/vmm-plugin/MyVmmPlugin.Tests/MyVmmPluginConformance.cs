using Vmm.Testing;

namespace MyVmmPlugin.Tests;

// One class per component, derived from its kind's conformance class: the suite's properties run against it.
#if (isPolicy)
public sealed class MyVmmPluginPolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "myvmmplugin";

    /// <summary>A PROT_NONE VMA leaves a shmem-backed VM's page cache readable through read(2) and a second mapping of the file (as the built-in prot-none).</summary>
    protected override IReadOnlyCollection<string> KnownPlaintextReads => ["host.pread", SecondMappingRead];
}
#endif
#if (isFaults)
public sealed class MyVmmPluginFaultDeliveryConformance : FaultDeliveryConformance
{
    public override string ComponentName => "myvmmplugin";
}
#endif
#if (isWorkload)
public sealed class MyVmmPluginWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "myvmmplugin";
}
#endif
