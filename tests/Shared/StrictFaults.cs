using Moq;
using Vmm.Abstractions;

namespace Vmm.Tests.Infrastructure;

/// <summary>
/// A strict <see cref="IFaultDelivery"/> mock that records what it is handed. Deliver takes its event
/// `in`, so Moq matches it only with <c>It.Ref&lt;KernelEvent&gt;.IsAny</c> and a callback delegate of the same shape.
/// </summary>
internal sealed class StrictFaults
{
    private delegate void DeliverCallback(in KernelEvent kernelEvent);

    public Mock<IFaultDelivery> Mock { get; } = new(MockBehavior.Strict);
    public List<KernelEvent> Delivered { get; } = [];

    /// <summary>From now on Deliver is allowed: it records the event and answers <paramref name="answer"/>.</summary>
    public void Allow(Outcome answer)
        => Mock.Setup(f => f.Deliver(It.Ref<KernelEvent>.IsAny))
            .Callback(new DeliverCallback((in KernelEvent e) => Delivered.Add(e)))
            .Returns(answer);

    public KernelEvent VerifyDeliveredOnce()
    {
        Mock.Verify(f => f.Deliver(It.Ref<KernelEvent>.IsAny), Times.Once);
        Mock.VerifyNoOtherCalls();
        return Assert.Single(Delivered);
    }
}
