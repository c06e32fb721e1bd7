using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.GuestMemory.Tests.Infrastructure;
using Vmm.Plugins.GuestOnly;

namespace Vmm.Plugins.GuestMemory.Tests;

/// <summary>
/// <see cref="PrivateMemoryModel"/> under guest-only (a protected shmem VM and an unprotected anonymous one). Besides
/// the model's guarantees: no present PTE of any process maps a PageGuest frame; a VMM load or store of a private page
/// is SIGBUS (BUS_ADRERR, or BUS_MCEERR_AR once a memory error made the PAGE_NONE entry a hwpoison entry); GUP without
/// FOLL_GUEST fails; /proc/pid/mem is EIO.
/// </summary>
public class GuestOnlyModelTests
{
    private const int Sequences = 300;

    [Fact]
    public void RandomSequences_UnderGuestOnly_NeverLeakPrivateDataNorFramesNorPanic()
        => PrivateMemoryModel.Check(new Rules(), stream: 20, Sequences);

    private sealed class Rules : IDesignRules
    {
        public string Name => "guest-only";

        public bool StartsShared => false;

        public TestMachine Create() => TestMachine.Create(new MachineSetup
        {
            Vms = [ModelVms.Td(BackingKind.Shmem), ModelVms.Plain(BackingKind.Anon)],
            PolicyFor = k => new GuestOnlyPolicy(k, k, k, k),
            Headroom = 2 * TestMachine.MiB,
        });

        public bool MustNotBeMapped(HostKernel kernel, Pfn pfn) => kernel.Mm.Frames.Has(pfn, FrameFlags.Guest);

        public string? CheckPrivateTouch(OpKind kind, bool kvmFlag, Outcome outcome) => kind switch
        {
            OpKind.HostRead or OpKind.HostWrite => outcome.Kind == OutcomeKind.SigBus && outcome.SigBusCode is SigBusCode.BUS_ADRERR or SigBusCode.BUS_MCEERR_AR
                ? null : $"a VMM touch of a guest-only page must be SIGBUS BUS_ADRERR (BUS_MCEERR_AR after a memory error), got {outcome}",
            OpKind.Gup when !kvmFlag => outcome.Kind == OutcomeKind.Errno ? null : $"GUP without FOLL_GUEST must fail, got {outcome}",
            OpKind.ProcMemRead => outcome.Kind == OutcomeKind.Errno && outcome.Errno == Errno.EIO ? null : $"/proc/pid/mem of a guest-only page must be EIO, got {outcome}",
            _ => null,
        };
    }
}
