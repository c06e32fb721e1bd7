using Vmm.Testing;

namespace Vmm.Conformance.Tests;

// One class per registered component; DiscoveryTests fails when a component has none.

public sealed class PlainMemoryControllerConformance : MemoryControllerConformance
{
    public override string ComponentName => "plain";
}

public sealed class MktmeMemoryControllerConformance : MemoryControllerConformance
{
    public override string ComponentName => "mktme";
}

public sealed class TdxLiMemoryControllerConformance : MemoryControllerConformance
{
    public override string ComponentName => "tdx-li";
}

public sealed class TdxCiMemoryControllerConformance : MemoryControllerConformance
{
    public override string ComponentName => "tdx-ci";
}

public sealed class X86RadixPageTableConformance : PageTableConformance
{
    public override string ComponentName => "x86-64";
}

public sealed class NonePolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "none";

    /// <summary>P-none: private pages stay mapped in the VMM.</summary>
    protected override bool ClaimsProtection => false;
}

public sealed class ProtNonePolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "prot-none";

    /// <summary>
    /// Finding (docs/conformance.md): the protection is a PROT_NONE VMA, so a shmem-backed TD's page cache stays
    /// readable through read(2) on the file and through any other mapping of it; no policy hook covers either path.
    /// </summary>
    protected override IReadOnlyCollection<string> KnownPlaintextReads => ["host.pread", SecondMappingRead];
}

public sealed class BounceWritesPolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "bounce-writes";

    /// <summary>
    /// The proposal keeps the VMM's mapping readable (PROT_READ) and leaves GUP alone: on plain memory every load path
    /// returns the plaintext; only the VMM's stores are bounced and refused (docs/semantics.md P-bounce-writes).
    /// </summary>
    protected override IReadOnlyCollection<string> KnownPlaintextReads => ["host.read", "host.read again", "host.pread", "host.procmem-read", "host.process-vm-readv", SecondMappingRead];
}

public sealed class HwPoisonV1PolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "hwpoison-v1";

    /// <summary>RFC v1 commented the FOLL_ALLOW_POISONED check out: any GUP, so ptrace-style access, reaches the page (scenarios/hwpoison/v1-plain-procmem.json).</summary>
    protected override IReadOnlyCollection<string> KnownPlaintextReads => ["host.procmem-read", "host.process-vm-readv"];
}

public sealed class HwPoisonV2PolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "hwpoison-v2";
}

public sealed class GuestOnlyPolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "guest-only";

    /// <summary>PROT_GUEST is EINVAL unless the memslot is MAP_SHARED shmem: the series supports no other backing for a protected VM.</summary>
    protected override string BackingFor(string backing) => "shmem";

    // No KnownPlaintextReads: unlike prot-none, PageGuest is on the frame, so read(2) (EIO) and a second mapping (SIGBUS) are refused too.
}

public sealed class GuestMemfdPolicyConformance : PrivateMemoryPolicyConformance
{
    public override string ComponentName => "guest-memfd";

    /// <summary>Private memory lives in a guest_memfd: a protected VM needs backing guest-memfd (its shared side is a shmem memfd).</summary>
    protected override string BackingFor(string backing) => "guest-memfd";

    protected override string KernelVersion => "6.8";

    /// <summary>host.fallocate punches the guest_memfd, which the VMM never maps; its shared memfd at the hva stays mapped.</summary>
    protected override bool PunchedFileIsUnmapped => true;
}

public sealed class SplitStrategyConformance : HugePageStrategyConformance
{
    public override string ComponentName => "split";
}

public sealed class NoThpStrategyConformance : HugePageStrategyConformance
{
    public override string ComponentName => "no-thp";
}

public sealed class PmdPoisonStrategyConformance : HugePageStrategyConformance
{
    public override string ComponentName => "pmd-poison";
}

public sealed class LazySplitStrategyConformance : HugePageStrategyConformance
{
    public override string ComponentName => "lazy-split";
}

public sealed class LinuxFaultDeliveryConformance : FaultDeliveryConformance
{
    public override string ComponentName => "linux";
}

public sealed class SevSnpMemoryControllerConformance : MemoryControllerConformance
{
    public override string ComponentName => "sev-snp";
}

public sealed class KvmExitFaultDeliveryConformance : FaultDeliveryConformance
{
    public override string ComponentName => "kvm-exit";
}

public sealed class VmceFaultDeliveryConformance : FaultDeliveryConformance
{
    public override string ComponentName => "vmce";
}

public sealed class BootWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "boot";
}

public sealed class VirtioIoWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "virtio-io";
}

public sealed class PreallocWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "prealloc";
}

public sealed class VmmDumpWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "vmm-dump";
}

public sealed class MaliciousVmmWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "malicious-vmm";
}

public sealed class MemoryErrorsWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "memory-errors";
}

public sealed class DiscardWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "discard";
}

public sealed class ThpHeavyWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "thp-heavy";
}

public sealed class TwoVmsWorkloadConformance : WorkloadConformance
{
    public override string ComponentName => "two-vms";
}
