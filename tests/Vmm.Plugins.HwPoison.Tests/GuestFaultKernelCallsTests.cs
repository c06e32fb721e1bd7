using Moq;
using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>
/// What <see cref="HwPoisonPolicy.OnGuestFault"/> asks of the kernel (kvm_protect_pfn), call by call: a
/// strict mock of the kernel services answers only the calls set up, in the order set up.
/// </summary>
public class GuestFaultKernelCallsTests
{
    private static readonly Pfn Frame = new(0x1234);
    private static readonly Gfn Gfn = new(0x56);
    private static readonly VmInfo Td = Vm(0, "td1", BackingKind.Shmem);
    private static readonly VmInfo OtherTd = Vm(1, "td2", BackingKind.Shmem);
    private static readonly Hva PageHva = Td.HvaOf(Gfn.ToGpa());

    private static VmInfo Vm(int id, string name, BackingKind backing, bool isProtected = true)
        => new(new VmId(id), name, isProtected, backing, false, 1UL << 30, new Hva(0x7f00_0000_0000UL + ((ulong)id << 30)), KeyId.Shared);

    /// <summary>Every kernel service the policies take, as one strict mock so one sequence orders calls across services.</summary>
    public interface IKernelServices : IFrameMetadata, IUnmapService, IThpMechanics, IVmmControl, IKernelLog;

    private static (HwPoisonPolicy Policy, Mock<IKernelServices> Kernel) Create(bool v2 = true)
    {
        var kernel = new Mock<IKernelServices>(MockBehavior.Strict);
        var k = kernel.Object;
        var services = new HwPoisonServices(k, k, k, k, k, new CostLedger());
        HwPoisonPolicy policy = v2 ? new HwPoisonV2Policy(new HwPoisonOptions(), services) : new HwPoisonV1Policy(new HwPoisonOptions(), services);
        return (policy, kernel);
    }

    [Fact]
    public void GuestFault_OnFreshSwapBackedFrame_PoisonsUnmapsThenRecordsOwnerInThatOrder()
    {
        var (policy, kernel) = Create();
        var seq = new MockSequence();
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.SwapBacked | FrameFlags.PageCache);
        kernel.InSequence(seq).Setup(k => k.IsHugeMapped(PageHva)).Returns(false);
        kernel.InSequence(seq).Setup(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private));
        kernel.InSequence(seq).Setup(k => k.TryToUnmap(Frame, UnmapFlags.HwPoison | UnmapFlags.KeepReference)).Returns(1);
        kernel.InSequence(seq).Setup(k => k.SetOwner(Frame, Td.Id));

        var action = policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true));

        Assert.Equal(GuestFaultAction.Map, action);
        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.Verify(k => k.IsHugeMapped(PageHva), Times.Once);
        kernel.Verify(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private), Times.Once);
        kernel.Verify(k => k.TryToUnmap(Frame, UnmapFlags.HwPoison | UnmapFlags.KeepReference), Times.Once);
        kernel.Verify(k => k.SetOwner(Frame, Td.Id), Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_InV1_PoisonsAndUnmapsButRecordsNoOwner()
    {
        var (policy, kernel) = Create(v2: false);
        var seq = new MockSequence();
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.SwapBacked);
        kernel.InSequence(seq).Setup(k => k.IsHugeMapped(PageHva)).Returns(false);
        kernel.InSequence(seq).Setup(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private));
        kernel.InSequence(seq).Setup(k => k.TryToUnmap(Frame, UnmapFlags.HwPoison | UnmapFlags.KeepReference)).Returns(1);

        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true)));

        kernel.Verify(k => k.TryToUnmap(Frame, UnmapFlags.HwPoison | UnmapFlags.KeepReference), Times.Once);
        kernel.Verify(k => k.SetOwner(It.IsAny<Pfn>(), It.IsAny<VmId>()), Times.Never);
        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.Verify(k => k.IsHugeMapped(PageHva), Times.Once);
        kernel.Verify(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private), Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Theory]
    [InlineData(BackingKind.File)]
    [InlineData(BackingKind.Hugetlb)]
    public void GuestFault_OnFrameThatIsNotSwapBacked_SendsHwPoisonSignalAndWarns_WithoutUnmapping(BackingKind backing)
    {
        var vm = Vm(0, "td1", backing);
        var (policy, kernel) = Create();
        var seq = new MockSequence();
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.PageCache);
        kernel.InSequence(seq).Setup(k => k.Warn(It.Is<string>(m => m.Contains("not swap-backed") && m.Contains("td1"))));

        var action = policy.OnGuestFault(new GuestFault(vm, Gfn, Frame, true));

        Assert.Equal(GuestFaultAction.HwPoisonSignal, action);
        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.Verify(k => k.Warn(It.IsAny<string>()), Times.Once);
        kernel.Verify(k => k.TryToUnmap(It.IsAny<Pfn>(), It.IsAny<UnmapFlags>()), Times.Never);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_OnFrameOwnedByAnotherVm_SendsHwPoisonSignal()
    {
        var (policy, kernel) = Create();
        var seq = new MockSequence();
        var poisoned = FrameFlags.InUse | FrameFlags.SwapBacked | FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private;
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(poisoned);
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(poisoned);
        kernel.InSequence(seq).Setup(k => k.GetOwner(Frame)).Returns(Td.Id);

        var action = policy.OnGuestFault(new GuestFault(OtherTd, Gfn, Frame, true));

        Assert.Equal(GuestFaultAction.HwPoisonSignal, action);
        kernel.Verify(k => k.GetFlags(Frame), Times.Exactly(2));
        kernel.Verify(k => k.GetOwner(Frame), Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_OnFrameOwnedByTheSameVm_MapsWithoutPoisoningAgain()
    {
        var (policy, kernel) = Create();
        var poisoned = FrameFlags.InUse | FrameFlags.SwapBacked | FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private;
        kernel.Setup(k => k.GetFlags(Frame)).Returns(poisoned);
        kernel.Setup(k => k.GetOwner(Frame)).Returns(Td.Id);

        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true)));

        kernel.Verify(k => k.GetFlags(Frame), Times.AtLeastOnce);
        kernel.Verify(k => k.GetOwner(Frame), Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_OnZeroPage_InV2_MapsWithoutSettingFlags()
    {
        var (policy, kernel) = Create();
        kernel.Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.ZeroPage);

        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true)));

        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_OnZeroPage_InV1_SetsHwPoisonOnItAndMaps()
    {
        var (policy, kernel) = Create(v2: false);
        var seq = new MockSequence();
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.ZeroPage);
        kernel.InSequence(seq).Setup(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison));

        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true)));

        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.Verify(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison), Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_InHugeMappedHva_WithoutStrategy_SendsHwPoisonSignalAndWarns()
    {
        var (policy, kernel) = Create();
        var seq = new MockSequence();
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.SwapBacked | FrameFlags.Compound);
        kernel.InSequence(seq).Setup(k => k.IsHugeMapped(PageHva)).Returns(true);
        kernel.InSequence(seq).SetupGet(k => k.Strategy).Returns((IHugePageStrategy?)null);
        kernel.InSequence(seq).Setup(k => k.Warn(It.Is<string>(m => m.Contains("no huge-page strategy"))));

        Assert.Equal(GuestFaultAction.HwPoisonSignal, policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true)));

        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.Verify(k => k.IsHugeMapped(PageHva), Times.Once);
        kernel.VerifyGet(k => k.Strategy, Times.Once);
        kernel.Verify(k => k.Warn(It.IsAny<string>()), Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_InHugeMappedHva_WhenStrategyRefusesSubpage_SendsHwPoisonSignalAndDoesNotUnmap()
    {
        var (policy, kernel) = Create();
        var strategy = new Mock<IHugePageStrategy>(MockBehavior.Strict);
        strategy.Setup(s => s.PrepareSubpage(Td, PageHva, Frame)).Returns(false);
        var seq = new MockSequence();
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.SwapBacked | FrameFlags.Compound);
        kernel.InSequence(seq).Setup(k => k.IsHugeMapped(PageHva)).Returns(true);
        kernel.InSequence(seq).SetupGet(k => k.Strategy).Returns(strategy.Object);

        Assert.Equal(GuestFaultAction.HwPoisonSignal, policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true)));

        strategy.Verify(s => s.PrepareSubpage(Td, PageHva, Frame), Times.Once);
        strategy.VerifyNoOtherCalls();
        kernel.Verify(k => k.TryToUnmap(It.IsAny<Pfn>(), It.IsAny<UnmapFlags>()), Times.Never);
        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.Verify(k => k.IsHugeMapped(PageHva), Times.Once);
        kernel.VerifyGet(k => k.Strategy, Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestFault_InHugeMappedHva_WhenStrategyPreparesSubpage_PoisonsAndUnmapsThatFrame()
    {
        var (policy, kernel) = Create();
        var strategy = new Mock<IHugePageStrategy>(MockBehavior.Strict);
        var seq = new MockSequence();
        kernel.InSequence(seq).Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.SwapBacked | FrameFlags.Compound);
        kernel.InSequence(seq).Setup(k => k.IsHugeMapped(PageHva)).Returns(true);
        kernel.InSequence(seq).SetupGet(k => k.Strategy).Returns(strategy.Object);
        strategy.InSequence(seq).Setup(s => s.PrepareSubpage(Td, PageHva, Frame)).Returns(true);
        strategy.InSequence(seq).Setup(s => s.PrivateUnitPages(Td)).Returns(1);
        kernel.InSequence(seq).Setup(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private));
        kernel.InSequence(seq).Setup(k => k.TryToUnmap(Frame, UnmapFlags.HwPoison | UnmapFlags.KeepReference)).Returns(1);
        kernel.InSequence(seq).Setup(k => k.SetOwner(Frame, Td.Id));

        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(Td, Gfn, Frame, true)));

        strategy.Verify(s => s.PrepareSubpage(Td, PageHva, Frame), Times.Once);
        strategy.Verify(s => s.PrivateUnitPages(Td), Times.Once);
        strategy.VerifyNoOtherCalls();
        kernel.Verify(k => k.TryToUnmap(Frame, UnmapFlags.HwPoison | UnmapFlags.KeepReference), Times.Once);
        kernel.Verify(k => k.SetOwner(Frame, Td.Id), Times.Once);
        kernel.Verify(k => k.SetFlags(Frame, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private), Times.Once);
        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.Verify(k => k.IsHugeMapped(PageHva), Times.Once);
        kernel.VerifyGet(k => k.Strategy, Times.Once);
        kernel.VerifyNoOtherCalls();
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void GuestFault_SharedAccessOrUnprotectedVm_MapsAfterReadingFlagsOnly(bool isProtected, bool privateAccess)
    {
        var vm = Vm(0, "vm", BackingKind.Shmem, isProtected);
        var (policy, kernel) = Create();
        kernel.Setup(k => k.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.SwapBacked);

        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(vm, Gfn, Frame, privateAccess)));

        kernel.Verify(k => k.GetFlags(Frame), Times.Once);
        kernel.VerifyNoOtherCalls();
    }
}
