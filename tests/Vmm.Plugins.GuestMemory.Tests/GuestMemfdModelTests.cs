using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.GuestMemfd;
using Vmm.Plugins.GuestMemory.Tests.Infrastructure;

namespace Vmm.Plugins.GuestMemory.Tests;

/// <summary>
/// <see cref="PrivateMemoryModel"/> under guest-memfd: at 6.8 (private memory in the guest_memfd, shared memory in a
/// shmem memfd at the hva), and at 6.18 with gmemFlags MMAP and INIT_SHARED, discarding or converting in place.
/// Besides the model's guarantees: no present PTE maps a guest_memfd page whose gfn is private; a VMM load or store of a
/// private page reaches the shared copy (ok) or, where the VMM maps the guest_memfd itself, SIGBUS BUS_ADRERR.
/// </summary>
public class GuestMemfdModelTests
{
    private const int Sequences = 300;

    public enum Setup
    {
        Discard68,
        Mmap618,
        Mmap618InPlace,
    }

    [Theory]
    [InlineData(Setup.Discard68)]
    [InlineData(Setup.Mmap618)]
    [InlineData(Setup.Mmap618InPlace)]
    public void RandomSequences_UnderGuestMemfd_NeverLeakPrivateDataNorFramesNorPanic(Setup setup)
        => PrivateMemoryModel.Check(new Rules(setup), stream: 10 + (uint)setup, Sequences);

    private sealed class Rules(Setup setup) : IDesignRules
    {
        public string Name => $"guest-memfd ({setup})";

        public bool StartsShared => setup != Setup.Discard68;

        private bool Mmap => setup != Setup.Discard68;

        public TestMachine Create() => TestMachine.Create(new MachineSetup
        {
            Vms = [ModelVms.Td(BackingKind.GuestMemfd, Mmap ? GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared : GuestMemfdFlags.None), ModelVms.Plain(BackingKind.Anon)],
            Kernel = Mmap ? new KernelVersion(6, 18) : new KernelVersion(6, 8),
            PolicyFor = k => new GuestMemfdPolicy(new GuestMemfdOptions { InPlaceConversion = setup == Setup.Mmap618InPlace }, k, k),
            Headroom = 2 * TestMachine.MiB,
        });

        /// <summary>A guest_memfd page whose gfn is private (kvm_gmem_fault_user_mapping never maps it).</summary>
        public bool MustNotBeMapped(HostKernel kernel, Pfn pfn)
            => kernel.FileById(kernel.Mm.Frames.FileId(pfn)) is { Kind: BackingKind.GuestMemfd } gmem && kernel.Kvm.GmemPagePrivate(gmem, kernel.Mm.Frames.FileIndex(pfn));

        public string? CheckPrivateTouch(OpKind kind, bool kvmFlag, Outcome outcome)
        {
            if (kind is not (OpKind.HostRead or OpKind.HostWrite)) return null;
            // 6.8: the hva is the shared memfd, so the touch is an ordinary access of the shared copy; 6.18 MMAP: the guest_memfd refuses it.
            if (!Mmap) return outcome.Kind == OutcomeKind.Ok || outcome.Kind == OutcomeKind.SigBus ? null : $"a VMM touch of a private gfn reaches the shared copy, got {outcome}";
            return outcome.Kind == OutcomeKind.SigBus ? null : $"a VMM touch of a private page of a mapped guest_memfd must be SIGBUS, got {outcome}";
        }
    }
}
